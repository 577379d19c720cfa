"""Exact profiled likelihood of the random-intercept model, vectorised over replicates.

For ``y = X beta + u[g] + e`` with ``u ~ N(0, tau^2)`` and ``e ~ N(0, sigma^2)``
the REML criterion and the ML deviance, profiled over ``beta`` and ``sigma``,
depend on the single ratio ``theta = tau / sigma`` and on per-group sums only
(``../shared/NOTES.md``). Everything here works on a leading *replicate* axis
``R`` so that one call fits one model or thousands of simulated replicates.

This module knows nothing about pandas or formulas: it sees arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, NamedTuple

import numpy as np

__all__ = [
    "GroupSums",
    "Pieces",
    "ThetaFit",
    "pieces",
    "working_pieces",
    "equilibrated_inverse",
    "matvec",
    "row_products",
    "standardizing_map",
    "accurate_residual",
    "EXACT_FIT_RTOL",
    "criterion",
    "fit_theta",
    "bracketed_root",
    "narrow_bracket",
]

#: Grid of theta values that brackets the optimum before exact refinement.
THETA_GRID = np.concatenate([[0.0], np.logspace(-4.0, 4.0, 33)])
#: Beyond this ``theta`` the residual sd is below 1e-12 of the group sd: float64
#: data (16 digits) cannot tell it from 0, and the fit is reported as not converged.
THETA_MAX = 1e12
#: A single fit narrows its grid bracket by this many slopes at once, this many times; a
#: batch by NARROW_POINTS_BATCH slopes of each replicate (about 4 fewer search steps).
NARROW_POINTS, NARROW_ROUNDS = 64, 1
NARROW_POINTS_BATCH = 7
#: A residual this small relative to the response means the fixed effects fit y exactly.
EXACT_FIT_RTOL = 1e3 * np.finfo(float).eps


@dataclass(frozen=True)
class GroupSums:
    """Sufficient statistics of a random-intercept model for ``R`` replicates.

    The sums are built in *working units* that make them immune to shifts
    and rescalings of the data: the columns of X are centred (when X has an
    intercept) and scaled, ``X_w = X M``; y is replaced by its scaled
    least-squares residual on X, ``y = y_scale y_w + X_w b0``. Both changes
    keep the column space of X, so ``theta`` is unchanged and the estimates
    map back exactly (``beta = y_scale M beta_w + M b0``). Each sum is split
    into a within-group part and a group-sum part, so the system matrix
    ``A = W + sum_k S_k / (n_k (1 + n_k s))`` is a sum of positive terms
    with no cancellation for any ``s = theta^2`` (NOTES.md writes it as
    ``X'X - sum_i w_i sx_i sx_i'``, which cancels for large ``theta``).

    The weight of a group depends on its size only, so groups are pooled
    into *size classes*: every sum over groups becomes a sum over the ``K``
    distinct sizes. Every array has a leading replicate axis, which may
    have length 1 to be broadcast (for example the design of a parametric
    bootstrap, where only ``y`` changes between replicates).

    Attributes
    ----------
    sizes : ndarray, shape (R, K)
        Group size ``n_k`` of each class.
    multiplicity : ndarray, shape (R, K)
        Number of groups of that size (0 pads a replicate with fewer classes).
    sxx : ndarray, shape (R, K, p, p)
        ``sum_{i in k} sx_i sx_i'``, with ``sx_i`` group ``i``'s column sums of ``X_w``.
    sxy : ndarray, shape (R, K, p)
        ``sum_{i in k} sx_i sy_i``, with ``sy_i`` group ``i``'s sum of ``y_w``.
    syy : ndarray, shape (R, K)
        ``sum_{i in k} sy_i^2``.
    wxx, wxy, wyy : ndarray, shapes (R, p, p), (R, p), (R,)
        Within-group cross products of ``X_w`` and ``y_w`` (deviations from group means).
    x_map : ndarray, shape (R, p, p)
        ``M`` with ``X_w = X M``.
    beta_offset : ndarray, shape (R, p)
        ``M b0``, the part of ``beta`` removed from y.
    y_scale : ndarray, shape (R,)
    exact : ndarray of bool, shape (R,)
        The fixed effects reproduce y to rounding: there is nothing to fit.
    """

    sizes: np.ndarray
    multiplicity: np.ndarray
    sxx: np.ndarray
    sxy: np.ndarray
    syy: np.ndarray
    wxx: np.ndarray
    wxy: np.ndarray
    wyy: np.ndarray
    x_map: np.ndarray
    beta_offset: np.ndarray
    y_scale: np.ndarray
    exact: np.ndarray

    @classmethod
    def from_arrays(cls, y: np.ndarray, X: np.ndarray, groups: np.ndarray,
                    n_groups: int) -> "GroupSums":
        """Build the sums from data sharing one grouping.

        Parameters
        ----------
        y : ndarray, shape (n,) or (R, n)
            Response, one row per replicate.
        X : ndarray, shape (n, p) or (R, n, p)
            Fixed-effects design.
        groups : ndarray of int, shape (n,)
            Group code ``0 .. n_groups - 1`` of every observation.
        n_groups : int
        """
        y = np.atleast_2d(np.asarray(y, dtype=float))
        X = np.asarray(X, dtype=float)
        if X.ndim == 2:
            X = X[None]
        groups = np.asarray(groups)
        counts = np.bincount(groups, minlength=n_groups).astype(float)
        if (counts == 0).any():
            raise ValueError("every group code 0 .. n_groups - 1 needs at least one observation")
        order = np.argsort(groups, kind="stable")
        if (order != np.arange(order.size)).any():
            y, X = y[:, order], X[:, order]
        # Held as (R, p, n) in memory: every sum over rows then runs along contiguous
        # memory (a strided sum over (R, n, p) costs several times the whole build).
        columns = np.ascontiguousarray(np.swapaxes(X, -1, -2))
        X = np.swapaxes(columns, -1, -2)
        x_map = standardizing_map(X)
        cols_w = np.swapaxes(x_map, -1, -2) @ columns                     # (X M)', (R, p, n)
        sx, dev = _group_totals(cols_w, counts)                           # (R, p, G), (R, p, n)
        beta_offset, resid, y_scale, exact, wxx = _residual_response(y, X, x_map, cols_w, dev)
        sy, y_dev = _group_totals(resid, counts)
        within = (wxx, row_products(dev, y_dev[:, None])[..., 0] / y_scale[:, None],
                  np.einsum("rn,rn->r", y_dev, y_dev) / y_scale ** 2)
        sy = sy / y_scale[:, None]
        return cls._pooled(counts, sx, sy, within, x_map, beta_offset, y_scale, exact)

    @classmethod
    def _pooled(cls, counts: np.ndarray, sx: np.ndarray, sy: np.ndarray, within: tuple,
                x_map: np.ndarray, beta_offset: np.ndarray, y_scale: np.ndarray,
                exact: np.ndarray) -> "GroupSums":
        """Pool per-group sums (``counts`` (G,), ``sx`` (R, p, G), ``sy`` (R, G)) by size.

        Groups are sorted by size and each class summed with ``reduceat``, so
        memory is O(G) whatever the number of distinct sizes (a groups x sizes
        membership matrix would need terabytes for a million Zipf-sized groups).
        Groups stay on the last axis, contiguous in memory, until the classes are summed.
        """
        unpooled = dict(wxx=within[0], wxy=within[1], wyy=within[2], x_map=x_map,
                        beta_offset=beta_offset, y_scale=y_scale, exact=exact)
        if (counts == counts[0]).all():     # balanced: one class, each sum a dot product
            return cls(sizes=counts[None, :1], multiplicity=np.array([[float(counts.size)]]),
                       sxx=np.einsum("rig,rjg->rij", sx, sx)[:, None],
                       sxy=np.einsum("rig,rg->ri", sx, sy)[:, None],
                       syy=np.einsum("rg,rg->r", sy, sy)[:, None], **unpooled)
        sizes, inverse, multiplicity = np.unique(counts, return_inverse=True, return_counts=True)
        order = np.argsort(inverse, kind="stable")
        sx, sy = sx[..., order], sy[:, order]
        starts = np.concatenate([[0], np.cumsum(multiplicity[:-1])])
        sxx = np.add.reduceat(sx[..., :, None, :] * sx[..., None, :, :], starts, axis=-1)
        return cls(sizes=sizes[None], multiplicity=multiplicity.astype(float)[None],
                   sxx=np.moveaxis(sxx, -1, 1),
                   sxy=np.swapaxes(np.add.reduceat(sx * sy[:, None], starts, axis=-1), -1, -2),
                   syy=np.add.reduceat(sy ** 2, starts, axis=-1), **unpooled)

    @classmethod
    def stack(cls, items: "list[GroupSums]") -> "GroupSums":
        """Stack sums along the replicate axis, padding size classes where their numbers differ."""
        width = max(item.sizes.shape[-1] for item in items)
        fills = {"sizes": 1.0, "multiplicity": 0.0, "sxx": 0.0, "sxy": 0.0, "syy": 0.0}

        def field(name: str, item: "GroupSums") -> np.ndarray:
            value = getattr(item, name)
            n_reps = item.n_reps
            if value.shape[0] != n_reps:
                value = np.broadcast_to(value, (n_reps, *value.shape[1:]))
            if name not in fills or value.shape[1] == width:
                return value
            pad = [(0, 0), (0, width - value.shape[1])] + [(0, 0)] * (value.ndim - 2)
            return np.pad(value, pad, constant_values=fills[name])

        return cls(**{name: np.concatenate([field(name, item) for item in items])
                      for name in cls.__dataclass_fields__})

    def take(self, rows: np.ndarray) -> "GroupSums":
        """The replicates ``rows`` (indices, repeats allowed); fields shared by all stay shared."""
        return GroupSums(**{name: value if value.shape[0] == 1 else value[rows]
                            for name, value in self.__dict__.items()
                            if name in GroupSums.__dataclass_fields__})

    @property
    def n_reps(self) -> int:
        return max(a.shape[0] for a in (self.sizes, self.sxx, self.syy, self.wyy))

    @property
    def n_fixed(self) -> int:
        return self.sxy.shape[-1]

    @property
    def nobs(self) -> np.ndarray:
        return (self.sizes * self.multiplicity).sum(axis=-1)

    @cached_property
    def log_det_map(self) -> np.ndarray:
        """``log |det M|``, shape (R,): the Jacobian between working and data units."""
        return np.linalg.slogdet(self.x_map)[1]

    def _totals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``X_w'X_w, X_w'y_w, y_w'y_w``: within plus group-sum parts."""
        size = self.sizes[..., None]
        return (self.wxx + (self.sxx / size[..., None]).sum(axis=-3),
                self.wxy + (self.sxy / size).sum(axis=-2),
                self.wyy + (self.syy / self.sizes).sum(axis=-1))

    @property
    def yty(self) -> np.ndarray:
        """``y'y`` in the data's units (informational: it cancels for shifted data)."""
        xtx, xty, yty = self._totals()
        b = np.linalg.solve(self.x_map, self.beta_offset[..., None])[..., 0]
        return ((b * (xtx @ b[..., None])[..., 0]).sum(axis=-1)
                + 2 * self.y_scale * (b * xty).sum(axis=-1) + self.y_scale ** 2 * yty)

    def with_response_column(self, j: int, value: np.ndarray) -> "GroupSums":
        """Sums for ``y - value * X[:, j]`` on the design without column ``j``.

        With ``X = X_w M^-1``, ``y - value X[:, j] = y_scale (y_w + X_w delta)``.
        The reduced design is ``X_w L``: the other columns of ``X_w`` when
        column ``j`` of ``X`` is a centred predictor (they span it), else
        (dropping the intercept) the reduced design's own columns scaled to
        unit root mean square. The part of ``X_w delta`` in the span of
        ``X_w L`` goes to ``beta_offset``, so the new working response stays
        on the scale of the residuals.
        """
        value = np.asarray(value, dtype=float).reshape(-1)
        keep = [k for k in range(self.n_fixed) if k != j]
        inverse = np.linalg.inv(self.x_map)
        delta = (np.linalg.solve(self.x_map, self.beta_offset[..., None])[..., 0]
                 - value[:, None] * inverse[..., j]) / self.y_scale[:, None]
        gram = self._totals()[0]
        if (inverse[..., j, keep] == 0).all():
            mix = np.broadcast_to(np.eye(self.n_fixed)[:, keep], (self.n_reps, self.n_fixed, len(keep)))
            x_map = np.linalg.inv(inverse[..., keep, :][..., keep])
        else:
            mix = inverse[..., keep]
            norms = np.diagonal(np.swapaxes(mix, -1, -2) @ gram @ mix, axis1=-2, axis2=-1)
            scale = np.sqrt(norms / self.nobs[:, None])
            mix, x_map = mix / scale[:, None, :], np.eye(len(keep)) / scale[:, None, :]
        mix_t = np.swapaxes(mix, -1, -2)
        gamma = np.linalg.solve(mix_t @ gram @ mix, mix_t @ gram @ delta[..., None])
        delta = delta - (mix @ gamma)[..., 0]
        beta_offset = self.y_scale[:, None] * (x_map @ gamma)[..., 0]
        classes = _bilinear(self.sxx, self.sxy, self.syy, mix[:, None], delta[:, None])
        within = _bilinear(self.wxx, self.wxy, self.wyy, mix, delta)
        return GroupSums(self.sizes, self.multiplicity, *classes, *within, x_map=x_map,
                         beta_offset=beta_offset, y_scale=self.y_scale, exact=self.exact)


def _bilinear(xx: np.ndarray, xy: np.ndarray, yy: np.ndarray, mix: np.ndarray,
              shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross products of ``(X L, y + X d)`` from those of ``(X, y)``; ``L = mix``, ``d = shift``."""
    xy_new = xy + (xx @ shift[..., None])[..., 0]
    yy_new = yy + 2 * (shift * xy).sum(axis=-1) + (shift * (xx @ shift[..., None])[..., 0]).sum(axis=-1)
    mix_t = np.swapaxes(mix, -1, -2)
    return mix_t @ xx @ mix, (mix_t @ xy_new[..., None])[..., 0], yy_new


def _group_totals(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums over each group's run of the last axis, and the deviations from the group means.

    ``values`` (..., n) holds the groups' rows in order, ``counts`` (G,)
    their sizes. When every group has the same size s the runs are the
    columns of a (..., G, s) view, summed by s vectorised additions:
    ``reduceat`` over many short runs costs several times more.
    """
    size = int(counts[0])
    if (counts == size).all() and size <= 16:
        blocks = values.reshape(*values.shape[:-1], counts.size, size)
        totals = blocks[..., 0].copy()
        for j in range(1, size):
            totals += blocks[..., j]
        return totals, (blocks - (totals / size)[..., None]).reshape(values.shape)
    starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.intp)
    totals = np.add.reduceat(values, starts, axis=-1)
    row_group = np.repeat(np.arange(counts.size), counts.astype(np.intp))
    return totals, values - (totals / counts)[..., row_group]


def standardizing_map(X: np.ndarray) -> np.ndarray:
    """``M`` such that ``X M`` has unit-scale columns, centred when X has an intercept.

    With a constant column ``c`` (the intercept) every other column becomes
    ``(x - mean) / sd`` and the intercept ``c / |c|``; without one, columns
    are divided by their root mean square. ``X M`` spans the column space
    of ``X``, so fits on it are those on ``X`` reparameterised.

    Parameters
    ----------
    X : ndarray, shape (R, n, p)

    Returns
    -------
    ndarray, shape (R, p, p)
    """
    # Reduce along the last axis of the columns' view: for a batch's design, held as
    # (R, p, n), that is contiguous memory (several times faster than a strided axis).
    columns = np.swapaxes(X, -1, -2)
    mean = columns.mean(axis=-1)
    constant = (columns == columns[..., :1]).all(axis=-1)
    intercept = constant & (mean != 0)
    centre = intercept.any(axis=1)[:, None] & ~constant
    shifted = columns - np.where(centre, mean, 0.0)[..., None]
    spread = np.sqrt(np.einsum("...n,...n->...", shifted, shifted) / columns.shape[-1])
    scale = np.where(spread > 0, spread, 1.0)
    x_map = np.zeros(X.shape[:1] + X.shape[2:] * 2)
    p = X.shape[-1]
    x_map[:, np.arange(p), np.arange(p)] = 1.0 / scale
    rows = np.arange(X.shape[0])
    j0 = intercept.argmax(axis=1)
    x_map[rows, j0] -= np.where(centre, mean / (scale * mean[rows, j0][:, None]), 0.0)
    return x_map


def _residual_response(y: np.ndarray, X: np.ndarray, x_map: np.ndarray, cols_w: np.ndarray,
                       dev: np.ndarray) -> tuple[np.ndarray, ...]:
    """Residual of y on X: ``(beta0, resid, y_scale, exact, dev dev')``; ``y_w = resid / y_scale``.

    ``cols_w`` is ``X_w' = (X M)'`` and ``dev`` its within-group deviations,
    both (R, p, n). Removing ``X beta0`` (absorbed by ``beta``) leaves sums
    on the scale of the residuals, whatever the offset and the explained
    part of y. A least-squares step on the well-conditioned ``X_w`` removes
    the offset and the overall fit; a step on the within-group deviations
    (columns that vary within groups only) removes the within-group fit,
    which large-``theta`` fits are made of. Any ``beta0`` keeps the fit
    exact, so both steps are float64 algebra on p x p matrices; the residual
    ``y - X beta0`` is exact for its ``beta0`` (:func:`accurate_residual`)
    even when it is 1e-9 of y. ``dev dev'`` is the within-group Gram matrix.
    """
    p = cols_w.shape[-2]
    dev_gram = row_products(dev, dev)
    varies = np.diagonal(dev_gram, axis1=-2, axis2=-1) > 1e-8 * X.shape[-2]
    step = np.linalg.solve(row_products(cols_w, cols_w), row_products(cols_w, y[:, None]))
    gram = (dev_gram * (varies[..., :, None] & varies[..., None, :])
            + np.eye(p) * ~varies[..., None, :])
    # dev' X_w = dev' dev: the group means of X_w are orthogonal to deviations from them.
    within = row_products(dev, y[:, None]) - dev_gram @ step
    step = step + np.linalg.solve(gram, within * varies[..., None])
    beta0 = (x_map @ step)[..., 0]
    resid, rms, size = accurate_residual(y, X, beta0)
    exact = rms <= EXACT_FIT_RTOL * size
    return beta0, resid, np.where(rms > 0, rms, 1.0), exact, dev_gram


def row_products(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``u v'`` of stacks (R, p, n) and (R, q, n) (leading axes broadcast): (R, p, q).

    Each entry is one dot product over the rows: for a few columns that
    beats matmul's stacked products of a transposed operand several-fold.
    """
    p, q = u.shape[-2], v.shape[-2]
    if p * q > 16:
        return u @ np.swapaxes(v, -1, -2)
    lead = np.broadcast_shapes(u.shape[:-2], v.shape[:-2])
    out = np.empty((*lead, p, q))
    for i in range(p):
        for j in range(q):
            out[..., i, j] = np.einsum("...n,...n->...", u[..., i, :], v[..., j, :])
    return out


def _apply(X: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``X b`` for X (1 or R, n, p) and b (R, p), one column at a time.

    With p small this beats a matrix product, whose threads stall on a busy machine.
    """
    out = b[:, :1] * X[..., 0]
    for k in range(1, X.shape[-1]):
        out += b[:, k:k + 1] * X[..., k]
    return out


def accurate_residual(y: np.ndarray, X: np.ndarray, beta0: np.ndarray) -> np.ndarray:
    """``(y - X beta0, its rms, the size of y and X beta0)``, exact for ``beta0``.

    Rounding perturbs each residual by about ``eps (|X beta0| + |resid|)``; where
    that exceeds 1e-12 of the residuals' size (offsets, near-exact fits) the
    replicate is recomputed with ``np.longdouble``.
    """
    resid = y - _apply(X, beta0)
    rms = np.sqrt(np.einsum("rn,rn->r", resid, resid) / resid.shape[-1])
    columns = np.swapaxes(X, -1, -2)
    largest = np.maximum(columns.max(axis=-1), -columns.min(axis=-1))   # max |X| per column
    size = (largest * np.abs(beta0)).sum(axis=-1) + rms
    redo = rms < 1e12 * np.finfo(float).eps * size
    if redo.any():
        X_redo = X if X.shape[0] == 1 else X[redo]
        exact = y[redo].astype(np.longdouble)
        for k in range(X.shape[-1]):
            exact -= X_redo[..., k].astype(np.longdouble) * beta0[redo, k, None].astype(np.longdouble)
        resid[redo] = exact.astype(float)
        rms[redo] = np.sqrt(np.einsum("rn,rn->r", resid[redo], resid[redo]) / resid.shape[-1])
    return resid, rms, size


class Pieces(NamedTuple):
    """The profiled quantities at ``s = theta^2``; leading axes (R, m).

    ``beta``, ``r2``, ``a_inv`` and ``logdet_a`` are in the data's units; the
    ``*_work`` fields hold the same in the working units of :class:`GroupSums`.
    """

    s: np.ndarray
    logdet_v: np.ndarray     # sum_i log(1 + n_i s)
    logdet_a: np.ndarray     # log det A
    beta: np.ndarray         # (R, m, p)
    r2: np.ndarray           # penalised residual sum of squares
    a_inv: np.ndarray        # (R, m, p, p)
    nobs: np.ndarray
    beta_work: np.ndarray
    a_inv_work: np.ndarray
    r2_work: np.ndarray


def _flat(matrices: np.ndarray) -> np.ndarray:
    """(..., K, p, p) -> (..., K, p*p), for sums over classes by matrix products."""
    return matrices.reshape(*matrices.shape[:-2], -1)


def pieces(sums: GroupSums, s: np.ndarray, *, logdet_a: bool = True) -> Pieces:
    """Evaluate the profiled building blocks at ``s = theta^2``, in the data's units.

    Parameters
    ----------
    sums : GroupSums
    s : ndarray, shape (R, m)
        ``m`` values of ``theta^2`` for each replicate.
    logdet_a : bool
        Compute ``log det A`` (else NaN), which only the REML criterion needs.
    """
    work = working_pieces(sums, s, logdet_a=logdet_a)
    x_map = sums.x_map[:, None]
    scale = sums.y_scale[:, None]
    beta = scale[..., None] * matvec(x_map, work.beta_work) + sums.beta_offset[:, None]
    # A contiguous M': matmul's loop over a transposed (strided) operand costs twice as much.
    a_inv = x_map @ work.a_inv_work @ np.ascontiguousarray(np.swapaxes(x_map, -1, -2))
    logdet_a = work.logdet_a - 2 * sums.log_det_map[:, None]
    return work._replace(logdet_a=logdet_a, beta=beta, r2=scale ** 2 * work.r2_work, a_inv=a_inv)


def working_pieces(sums: GroupSums, s: np.ndarray, logdets: bool = True, *,
                   logdet_a: bool | None = None) -> Pieces:
    """:func:`pieces` in the working units of ``sums`` (the criterion is off by a constant).

    ``A = W + sum_k S_k / (n_k (1 + n_k s))`` and likewise ``c`` and the
    response's sum of squares: every term is non-negative, so nothing
    cancels as ``theta`` grows. ``A`` is scaled to a unit diagonal before
    it is inverted, since its between-group directions shrink like
    ``1 / theta^2`` while the within-group ones do not. ``logdets=False``
    skips both log determinants (NaN), which :func:`criterion_slope` does
    not need; ``logdet_a=False`` skips only ``log det A`` (default: ``logdets``).
    """
    s = np.asarray(s, dtype=float)
    p = sums.n_fixed
    sizes = sums.sizes[:, None, :]
    m = 1.0 / (sizes * (1.0 + sizes * s[..., None]))                 # (R, m, K)
    a = sums.wxx[:, None] + (m @ _flat(sums.sxx)).reshape(*m.shape[:2], p, p)
    c = sums.wxy[:, None] + m @ sums.sxy
    with_logdet_a = logdets if logdet_a is None else logdet_a
    a_inv, logdet_a = equilibrated_inverse(a, with_logdet_a)
    beta = matvec(a_inv, c)
    r2 = sums.wyy[:, None] + matvec(m, sums.syy) - matvec(c[..., None, :], beta)[..., 0]
    nobs = sums.nobs[:, None]                                         # broadcasts against s
    nan = np.full(s.shape, np.nan)
    logdet_v = nan
    if logdets:
        logdet_v = (np.log1p(sizes * s[..., None]) * sums.multiplicity[:, None, :]).sum(axis=-1)
    logdet_a = logdet_a if with_logdet_a else nan
    return Pieces(s, logdet_v, logdet_a, beta, r2, a_inv, nobs, beta, a_inv, r2)


def matvec(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a @ v`` for stacks of small matrices (..., q, p) and vectors (..., p), column by column.

    matmul treats every matrix-vector product of a stack as its own call,
    which costs several times these ``p`` vectorised multiply-adds.
    """
    out = a[..., 0] * v[..., 0, None]
    for j in range(1, a.shape[-1]):
        out += a[..., j] * v[..., j, None]
    return out


def equilibrated_inverse(a: np.ndarray,
                         logdet: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """``A^-1`` and ``log |det A|`` of a stack of matrices (..., p, p), via ``D A D``.

    ``D = diag(A)^-1/2`` scales A to a unit diagonal before it is inverted
    (:func:`working_pieces`' A has directions shrinking like ``1 / theta^2``
    next to ones that do not). For p <= 3 the inverse is by cofactors, each
    matrix entry a vectorised array over the stack: numpy's LAPACK loop
    costs about 0.15 us per matrix, many times the arithmetic of a 2 x 2 or
    3 x 3 inverse, and agrees with it to rounding on these well-conditioned
    matrices. A singular matrix gives infinities rather than
    ``LinAlgError``. The log determinant is None when ``logdet`` is false.
    """
    p = a.shape[-1]
    diag = [a[..., i, i] for i in range(p)]
    if p > 3:
        d = 1.0 / np.sqrt(np.stack(diag, axis=-1))
        outer = d[..., :, None] * d[..., None, :]
        logdet_a = np.linalg.slogdet(a * outer)[1] - 2 * np.log(d).sum(axis=-1) if logdet else None
        return np.linalg.inv(a * outer) * outer, logdet_a
    d = [1.0 / np.sqrt(diag[i]) for i in range(p)]
    dd = [[d[i] * d[j] for j in range(p)] for i in range(p)]
    e = [[a[..., i, j] * dd[i][j] for j in range(p)] for i in range(p)]       # D A D
    adj = _adjugate(e)
    det = e[0][0] if p == 1 else sum(e[0][j] * adj[j][0] for j in range(p))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = 1.0 / det
        out = np.empty(a.shape)
        for i in range(p):
            for j in range(p):
                out[..., i, j] = adj[i][j] * (scale * dd[i][j])
        if not logdet:
            return out, None
        product = np.abs(det)
        for i in range(p):          # det A = det(D A D) prod_i A_ii
            product = product * diag[i]
        return out, np.log(product)


def _adjugate(e: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Adjugate of a 1 x 1, 2 x 2 or 3 x 3 matrix given as nested lists of arrays."""
    p = len(e)
    if p == 1:
        return [[np.ones_like(e[0][0])]]
    if p == 2:
        return [[e[1][1], -e[0][1]], [-e[1][0], e[0][0]]]
    adj = [[None] * 3 for _ in range(3)]
    for i in range(3):              # adj[j][i] = cofactor (i, j); cyclic indices keep the signs
        i1, i2 = (i + 1) % 3, (i + 2) % 3
        for j in range(3):
            j1, j2 = (j + 1) % 3, (j + 2) % 3
            adj[j][i] = e[i1][j1] * e[i2][j2] - e[i1][j2] * e[i2][j1]
    return adj


def criterion(p: Pieces, reml: bool) -> np.ndarray:
    """REML criterion or ML deviance (-2 log-likelihood) from :func:`pieces`."""
    n = p.nobs
    if reml:
        dof = n - p.beta.shape[-1]
        return p.logdet_v + p.logdet_a + dof * (1.0 + np.log(2 * np.pi * p.r2 / dof))
    return p.logdet_v + n * (1.0 + np.log(2 * np.pi * p.r2 / n))


def criterion_slope(sums: GroupSums, p: Pieces, reml: bool) -> np.ndarray:
    """Derivative of :func:`criterion` with respect to ``s = theta^2``.

    Uses the envelope theorem: ``d r2 / ds = -sum_i w_i' (sy_i - sx_i' beta)^2``
    with ``w_i' = 1 / (1 + n_i s)^2``, summed here by size class, in the
    working units of ``sums`` (the slope does not depend on the units).
    """
    sizes = sums.sizes[:, None, :]
    dw = 1.0 / (1.0 + sizes * p.s[..., None]) ** 2                              # (R, m, K)
    beta = p.beta_work
    cross = beta @ np.swapaxes(sums.sxy, -1, -2)
    beta_outer = _flat(beta[..., :, None] * beta[..., None, :])[..., None, :]
    quad_beta = (beta_outer @ np.swapaxes(_flat(sums.sxx), -1, -2)[:, None])[..., 0, :]
    dr2 = -(dw * (sums.syy[:, None] - 2 * cross + quad_beta)).sum(axis=-1)
    dlogdet_v = (sums.multiplicity[:, None, :] * sizes / (1.0 + sizes * p.s[..., None])).sum(axis=-1)
    if not reml:
        return dlogdet_v + p.nobs * dr2 / p.r2_work
    trace = _flat(np.swapaxes(p.a_inv_work, -1, -2)) @ np.swapaxes(_flat(sums.sxx), -1, -2)
    dof = p.nobs - beta.shape[-1]
    return dlogdet_v - (dw * trace).sum(axis=-1) + dof * dr2 / p.r2_work


@dataclass(frozen=True)
class ThetaFit:
    """Optimum of the profiled criterion for every replicate.

    Attributes
    ----------
    theta : ndarray, shape (R,)
        ``tau / sigma`` at the optimum (0 for a singular fit).
    sigma, tau : ndarray, shape (R,)
    beta : ndarray, shape (R, p)
    a_inv : ndarray, shape (R, p, p)
        ``A^-1``; ``vcov(beta) = sigma^2 A^-1``.
    value : ndarray, shape (R,)
        Minimum of the criterion (REML criterion or ML deviance).
    converged : ndarray of bool, shape (R,)
    at_upper_bound : ndarray of bool, shape (R,)
        The criterion still falls at ``THETA_MAX``: the residual variance is 0 to rounding.
    iterations : ndarray of int, shape (R,)
    reml : bool
    """

    theta: np.ndarray
    sigma: np.ndarray
    tau: np.ndarray
    beta: np.ndarray
    a_inv: np.ndarray
    value: np.ndarray
    converged: np.ndarray
    at_upper_bound: np.ndarray
    iterations: np.ndarray
    reml: bool

    @property
    def singular(self) -> np.ndarray:
        return self.theta == 0.0


def fit_theta(sums: GroupSums, reml: bool = True, *, tol: float = 1e-13,
              max_iter: int = 200) -> ThetaFit:
    """Minimise the profiled criterion over ``theta >= 0`` for every replicate.

    A grid over ``theta`` picks the basin of the global minimum. When the
    criterion still falls at an end of that basin the bracket moves on (up
    by factors of 10 in ``theta``, to :data:`THETA_MAX`), so no optimum is
    cut off by the grid. Inside the bracket the root of the analytic
    derivative is found by safeguarded regula falsi (Brent for one
    replicate), so the optimum is exact to rounding error rather than to
    an optimiser's tolerance. The fit is singular (``theta = 0``) when the
    criterion rises from ``theta = 0``. A replicate whose criterion still
    falls at :data:`THETA_MAX` (residual variance 0 to rounding) or whose
    fixed effects reproduce y exactly (``sums.exact``) is not converged.
    """
    def slope(s: np.ndarray) -> np.ndarray:
        return criterion_slope(sums, working_pieces(sums, s[:, None], logdets=False), reml)[:, 0]

    lo, hi, slope_lo, slope_hi, boundary = _grid_bracket(sums, reml)
    lo, hi, slope_lo, slope_hi, at_upper = _climb(slope, lo, hi, slope_lo, slope_hi)
    solve = ~boundary & ~at_upper & ~sums.exact
    s_opt = np.where(boundary | sums.exact, 0.0, hi)
    iterations = np.zeros(sums.n_reps, dtype=int)
    converged = np.ones(sums.n_reps, dtype=bool)
    if sums.n_reps == 1 and solve[0] and slope_lo[0] < 0 < slope_hi[0]:
        lo, hi, _, _ = _narrow(sums, reml, lo, hi, slope_lo, slope_hi, NARROW_POINTS)
        s_opt, iterations, converged = _scalar_root(slope, lo, hi, tol, max_iter)
    elif solve.any():
        bracket = _narrow(sums, reml, lo, hi, slope_lo, slope_hi, NARROW_POINTS_BATCH)
        root, its, ok = bracketed_root(slope, *bracket, solve, tol=tol, max_iter=max_iter)
        s_opt = np.where(solve, root, s_opt)
        iterations, converged = its, np.where(solve, ok, True)
    converged &= ~at_upper & ~sums.exact & (boundary | (slope_lo < 0) & (slope_hi > 0))
    return _theta_fit(sums, s_opt, reml, converged, at_upper, iterations)


def _grid_bracket(sums: GroupSums, reml: bool):
    """``(lo, hi, slope_lo, slope_hi, boundary)``: the grid points around the grid minimum."""
    n_reps = sums.n_reps
    grid_s = np.broadcast_to(THETA_GRID ** 2, (n_reps, THETA_GRID.size))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = criterion(working_pieces(sums, grid_s, logdet_a=reml), reml)
    best = np.argmin(np.where(np.isfinite(values), values, np.inf), axis=1)
    rows = np.arange(n_reps)
    lo = grid_s[rows, np.maximum(best - 1, 0)].copy()
    hi = grid_s[rows, np.minimum(best + 1, THETA_GRID.size - 1)].copy()
    ends = np.stack([lo, hi], axis=1)                                  # one call for both ends
    slope_lo, slope_hi = criterion_slope(sums, working_pieces(sums, ends, False), reml).T
    return lo, hi, slope_lo, slope_hi, (best == 0) & (slope_lo >= 0)


def _climb(slope: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
           slope_lo: np.ndarray, slope_hi: np.ndarray):
    """Move brackets whose top still descends up, ``theta`` x 10 a step, to :data:`THETA_MAX`.

    Returns the new ``(lo, hi, slope_lo, slope_hi)`` and ``at_upper``: the
    criterion still falls at :data:`THETA_MAX`.
    """
    s_max = THETA_MAX ** 2
    climbing = (slope_hi < 0) & (hi < s_max)
    while climbing.any():
        lo, slope_lo = np.where(climbing, hi, lo), np.where(climbing, slope_hi, slope_lo)
        hi = np.where(climbing, np.minimum(100.0 * hi, s_max), hi)
        slope_hi = np.where(climbing, slope(hi), slope_hi)
        climbing &= (slope_hi < 0) & (hi < s_max)
    return lo, hi, slope_lo, slope_hi, (slope_hi < 0) & (hi >= s_max)


def _narrow(sums: GroupSums, reml: bool, lo: np.ndarray, hi: np.ndarray, slope_lo: np.ndarray,
            slope_hi: np.ndarray, points: int, rounds: int = NARROW_ROUNDS):
    """Brackets of the criterion's minimum shrunk ``(points + 1) ** rounds``-fold.

    The slope at ``points`` values of every replicate costs a small
    multiple of the slope at one (1.4 times for 64 values of one
    replicate, 2.7 times for 7 values of 250), so a vectorised round
    replaces several of the root search's steps. A new bracket still has a
    negative slope at its bottom and a non-negative one at its top.
    """
    def slopes(s: np.ndarray) -> np.ndarray:
        return criterion_slope(sums, working_pieces(sums, s, False), reml)

    for _ in range(rounds):
        lo, hi, slope_lo, slope_hi = narrow_bracket(slopes, lo, hi, slope_lo, slope_hi, points)
    return lo, hi, slope_lo, slope_hi


def narrow_bracket(func: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
                   f_lo: np.ndarray, f_hi: np.ndarray, points: int) -> tuple[np.ndarray, ...]:
    """Brackets ``[lo, hi]`` (any shape S) shrunk ``points + 1``-fold by one call of ``func``.

    ``func`` gets ``points`` evenly spaced values inside every bracket
    (shape S + (points,)); the new bracket ends at the first of them whose
    value's sign differs from ``f_lo``'s (a NaN never does). Returns
    ``(lo, hi, f_lo, f_hi)``.
    """
    x = np.linspace(lo, hi, points + 2, axis=-1)[..., 1:-1]
    f = func(x)
    differs = (np.sign(f) != np.sign(f_lo)[..., None]) & ~np.isnan(f)
    k = np.where(differs.any(axis=-1), differs.argmax(axis=-1), points)

    def at(values: np.ndarray, index: np.ndarray) -> np.ndarray:
        return np.take_along_axis(values, index[..., None], axis=-1)[..., 0]

    below, above = np.maximum(k - 1, 0), np.minimum(k, points - 1)
    return (np.where(k > 0, at(x, below), lo), np.where(k < points, at(x, above), hi),
            np.where(k > 0, at(f, below), f_lo), np.where(k < points, at(f, above), f_hi))


def _scalar_root(slope: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
                 tol: float, max_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One replicate: scipy's Brent root search, free of the vectorised bookkeeping."""
    from scipy.optimize import brentq

    root, info = brentq(lambda s: float(slope(np.array([s]))[0]), float(lo[0]), float(hi[0]),
                        xtol=1e-300, rtol=max(tol, 4 * np.finfo(float).eps), maxiter=max_iter,
                        full_output=True, disp=False)
    return np.array([root]), np.array([info.iterations]), np.array([info.converged])


def _theta_fit(sums: GroupSums, s_opt: np.ndarray, reml: bool, converged: np.ndarray,
               at_upper: np.ndarray, iterations: np.ndarray) -> ThetaFit:
    p = pieces(sums, s_opt[:, None], logdet_a=reml)
    dof = sums.nobs - (sums.n_fixed if reml else 0)
    sigma = np.where(sums.exact, 0.0, np.sqrt(np.maximum(p.r2[:, 0], 0.0) / dof))
    theta = np.where(sums.exact, np.nan, np.sqrt(s_opt))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(sums.exact, -np.inf, criterion(p, reml)[:, 0])
    return ThetaFit(theta=theta, sigma=sigma, tau=theta * sigma, beta=p.beta[:, 0],
                    a_inv=p.a_inv[:, 0], value=value,
                    converged=converged, at_upper_bound=at_upper,
                    iterations=iterations, reml=reml)


def bracketed_root(func: Callable[[np.ndarray], np.ndarray], a: np.ndarray,
                   b: np.ndarray, f_a: np.ndarray, f_b: np.ndarray,
                   active: np.ndarray, *, tol: float = 1e-13, max_iter: int = 200,
                   sparse: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised Illinois (modified regula falsi) root search.

    Each active element needs ``f_a`` and ``f_b`` of opposite sign. The
    search stops when the bracket is narrower than ``tol`` relative to its
    end. Returns the roots, iteration counts and a convergence flag (bracket
    below ``sqrt(tol)`` relative; rounding noise can stall the last digits).
    With ``sparse`` ``func(x, active)`` is called instead and needs to fill
    only the active elements: the last few steps are often left to a few
    elements, which it can then evaluate alone.
    """
    a, b, f_a, f_b = (np.array(v, dtype=float) for v in (a, b, f_a, f_b))
    active = np.asarray(active, dtype=bool) & (np.sign(f_a) != np.sign(f_b))
    root = np.where(np.abs(f_a) < np.abs(f_b), a, b)
    iterations = np.zeros(a.shape, dtype=int)
    kept_a = np.zeros(a.shape, dtype=bool)   # was ``a`` retained last step?
    kept_b = np.zeros(a.shape, dtype=bool)
    # Updates in place (np.copyto with a mask): a step is a few dozen operations on small
    # arrays, so each one saved counts.
    for _ in range(max_iter):
        active &= np.abs(b - a) > tol * np.maximum(np.abs(a), np.abs(b))
        if not active.any():
            break
        x = b - f_b * (b - a) / (f_b - f_a)
        inside = np.isfinite(x) & (x > np.minimum(a, b)) & (x < np.maximum(a, b))
        np.copyto(x, 0.5 * (a + b), where=~inside)
        np.copyto(root, x, where=active)                  # the point evaluated, or the last root
        f_x = func(root, active) if sparse else func(root)
        f_x = np.where(active, f_x, 0.0)
        iterations += active
        like_b = np.sign(f_x) == np.sign(f_b)
        move_b, move_a = active & like_b, active & ~like_b
        # Illinois: halve the value at an end retained twice, so it is not left stale.
        np.copyto(f_a, 0.5 * f_a, where=move_b & kept_a)
        np.copyto(f_b, 0.5 * f_b, where=move_a & kept_b)
        np.copyto(a, root, where=move_a)
        np.copyto(f_a, f_x, where=move_a)
        np.copyto(b, root, where=move_b)
        np.copyto(f_b, f_x, where=move_b)
        np.copyto(kept_a, like_b, where=active)
        np.copyto(kept_b, ~like_b, where=active)
        active &= f_x != 0
    scale = np.maximum(np.abs(a), np.abs(b))
    converged = np.abs(b - a) <= np.sqrt(tol) * np.maximum(scale, 1e-300)
    return root, iterations, converged | (f_a == 0) | (f_b == 0)
