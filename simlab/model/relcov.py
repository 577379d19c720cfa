"""The exact engine for one grouping factor with ``q`` random effects per group.

lme4's formulation (``../shared/NOTES.md``, "Random slopes, one grouping
factor"): group ``i`` has random effects ``b_i ~ N(0, sigma^2 Lambda Lambda')``
with ``Lambda`` the lower-triangular *relative covariance factor*, and
``theta`` lists the free entries of ``Lambda`` column by column. With
``M_i = Lambda' Z_i'Z_i Lambda + I`` the REML criterion and the ML deviance,
profiled over ``beta`` and ``sigma``, need only per-group cross products
``Z_i'Z_i, Z_i'X_i, Z_i'y_i`` and the totals ``X'X, X'y, y'y``: an evaluation
costs O(groups q^3 + p^3), whatever the number of rows. The random intercept
is ``q = 1`` of the same code.

As in :mod:`simlab.model.profiled`, every array carries a leading replicate
axis ``R`` (length 1 for arrays shared by all replicates, such as those of
the design), and the sums are built in *working units* so that shifts and
rescalings of the data change nothing.

:func:`fit` reports the global minimum over the bounded ``theta``: lme4's
single search from its start can end at a boundary local optimum, so
searches run from several starts and on every face of the bounds.

This module knows nothing about pandas or formulas: it sees arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import NamedTuple

import numpy as np

from .profiled import EXACT_FIT_RTOL, accurate_residual, standardizing_map

__all__ = [
    "ThetaLayout",
    "CrossProducts",
    "Evaluation",
    "RelCovFit",
    "VarCorrRows",
    "evaluate",
    "criterion",
    "criterion_and_gradient",
    "fit",
    "local_fit",
    "projected_gradient",
    "theta_grid",
    "moment_start",
    "varcorr",
]

#: An eigenvalue of ``Z_i'Z_i`` below this fraction of the largest is rounding
#: noise: the group does not identify that direction (fewer rows than random
#: effects, or a slope variable constant within the group).
RANK_RTOL = 1e-10
#: A column of X_w or y_w (unit root mean square) whose part within groups has a
#: mean square below this is taken to have none (it lies in the span of every Z_i).
WITHIN_RTOL = 1e-16
#: Diagonal values (working units) of the coarse grid that screens the theta space.
GRID_DIAGONAL = (0.0, 0.1, 0.5, 2.0)
#: Off-diagonal values of that grid.
GRID_OFFDIAGONAL = (-1.0, 0.0, 1.0)
#: A converged fit has projected gradient below this (working units, criterion per theta).
GRADIENT_TOL = 1e-6
#: Step lengths tried at once along a Newton step (one vectorised evaluation).
STEP_FRACTIONS = 0.5 ** np.arange(21.0)
#: A Newton step is at most this many times ``max(1, |theta|)`` long (working units).
STEP_CAP = 10.0


@dataclass(frozen=True)
class ThetaLayout:
    """Which entries of ``Lambda`` are free, in lme4's order of ``theta``.

    ``Lambda`` is block diagonal, one lower-triangular block per random term
    (``(1 + x | g)`` is one block of size 2; ``(1 | g) + (0 + x | g)`` and
    ``(1 + x || g)`` are two blocks of size 1). Within a block ``theta``
    lists the lower triangle column by column, as lme4 does; blocks follow
    in term order.

    Attributes
    ----------
    blocks : tuple of int
        Size of each block; ``q = sum(blocks)``.
    """

    blocks: tuple[int, ...]

    @classmethod
    def full(cls, q: int) -> "ThetaLayout":
        """One correlated block, as ``(1 + x | g)``."""
        return cls((q,))

    @classmethod
    def diagonal(cls, q: int) -> "ThetaLayout":
        """Independent effects, as ``(1 | g) + (0 + x | g)`` or ``(1 + x || g)``."""
        return cls((1,) * q)

    def __post_init__(self):
        if not self.blocks or any(int(b) != b or b < 1 for b in self.blocks):
            raise ValueError(f"blocks must be positive whole numbers, got {self.blocks!r}")

    @property
    def q(self) -> int:
        return int(sum(self.blocks))

    @cached_property
    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cols)`` of ``Lambda`` for each element of ``theta``."""
        rows, cols, start = [], [], 0
        for size in self.blocks:
            for j in range(size):
                rows += list(range(start + j, start + size))
                cols += [start + j] * (size - j)
            start += size
        return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)

    @property
    def size(self) -> int:
        return self.index[0].size

    @property
    def on_diagonal(self) -> np.ndarray:
        """Boolean mask of the ``theta`` elements on the diagonal (bounded below by 0)."""
        rows, cols = self.index
        return rows == cols

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds of ``theta``, lme4's ``lower``: 0 on the diagonal, else ``-inf``."""
        return np.where(self.on_diagonal, 0.0, -np.inf)

    @property
    def start(self) -> np.ndarray:
        """lme4's default start: 1 on the diagonal, 0 elsewhere."""
        return self.on_diagonal.astype(float)

    def lam(self, theta: np.ndarray) -> np.ndarray:
        """``Lambda`` from ``theta``: (..., k) -> (..., q, q)."""
        theta = np.asarray(theta, dtype=float)
        out = np.zeros(theta.shape[:-1] + (self.q, self.q))
        out[..., self.index[0], self.index[1]] = theta
        return out

    def theta(self, lam: np.ndarray) -> np.ndarray:
        """The free entries of ``Lambda``: (..., q, q) -> (..., k)."""
        return np.asarray(lam)[..., self.index[0], self.index[1]]


@dataclass(frozen=True)
class CrossProducts:
    """Sufficient statistics of a one-factor model with ``q`` random effects, ``R`` replicates.

    Working units, as :class:`simlab.model.profiled.GroupSums`: ``X_w = X M``
    (:func:`~simlab.model.profiled.standardizing_map`), ``Z_w = Z / z_scale``
    (columns scaled only, which keeps ``Lambda`` lower triangular:
    ``Lambda_w = diag(z_scale) Lambda``), and ``y = y_scale y_w + X beta0``
    with ``y_w`` the scaled residual of y on X.

    Each group's rows are split by the orthogonal projection onto the
    columns of ``Z_i``: with ``Z_i = Q_i root_i`` (``Q_i`` orthonormal, from
    the eigen-decomposition ``Z_i'Z_i = V D V'``, ``root_i = D^1/2 V'``),
    the group contributes ``Q_i'X_i`` and ``Q_i'y_i`` ("between"), and the
    rest of its rows goes to the within-group totals ``wxx, wxy, wyy``.
    Then ``A = W_xx + sum_i (Q_i'X_i)' H_i^-1 (Q_i'X_i)`` with
    ``H_i = I + root_i Lambda Lambda' root_i'``: a sum of positive
    terms, with no cancellation however large ``Lambda`` grows (the
    NOTES.md form ``X'X - sum_i ...`` cancels). The products the NOTES use
    are the properties ``ztz``, ``ztx``, ``zty``, ``xtx``, ``xty``, ``yty``.

    Groups whose design blocks (``root_i``, ``Q_i'X_i``) are identical, as
    in a balanced design, form one *class*: the criterion needs only each
    class's design block, its number of groups and the sums of ``Q_i'y_i``
    and ``Q_i'y_i y_i'Q_i`` over it, so an evaluation costs O(classes q^3).

    Attributes
    ----------
    counts : ndarray, shape (G,)
        Rows per group.
    group_class : ndarray of int, shape (G,)
        Class of each group.
    multiplicity : ndarray, shape (K,)
        Groups per class.
    root : ndarray, shape (1, K, q, q)
        ``root_i`` with ``root_i' root_i = Z_i'Z_i`` (rows of directions the
        group does not identify are 0).
    qx : ndarray, shape (1, K, q, p)
        ``Q_i'X_i``.
    qy : ndarray, shape (R, G, q)
        ``Q_i'y_i`` of every group.
    sy, syy : ndarray, shapes (R, K, q), (R, K, q, q)
        Sums of ``Q_i'y_i`` and of its outer product over each class.
    wxx, wxy, wyy : ndarray, shapes (1, p, p), (R, p), (R,)
        Cross products of the within-group parts (residuals of each group's
        regression on ``Z_i``).
    x_map : ndarray, shape (1, p, p)
        ``M`` with ``X_w = X M``.
    z_scale : ndarray, shape (q,)
        Root mean square of each column of Z.
    beta_offset : ndarray, shape (R, p)
        ``beta0``, the part of ``beta`` removed from y (data units).
    y_scale : ndarray, shape (R,)
    exact : ndarray of bool, shape (R,)
        The fixed effects reproduce y to rounding: there is nothing to fit.
    """

    counts: np.ndarray
    group_class: np.ndarray
    multiplicity: np.ndarray
    root: np.ndarray
    qx: np.ndarray
    qy: np.ndarray
    sy: np.ndarray
    syy: np.ndarray
    wxx: np.ndarray
    wxy: np.ndarray
    wyy: np.ndarray
    x_map: np.ndarray
    z_scale: np.ndarray
    beta_offset: np.ndarray
    y_scale: np.ndarray
    exact: np.ndarray

    @classmethod
    def from_arrays(cls, y: np.ndarray, X: np.ndarray, Z: np.ndarray, groups: np.ndarray,
                    n_groups: int | None = None) -> "CrossProducts":
        """Build the cross products from data sharing one design.

        Parameters
        ----------
        y : ndarray, shape (n,) or (R, n)
            Response, one row per replicate.
        X : ndarray, shape (n, p)
            Fixed-effects design.
        Z : ndarray, shape (n, q)
            Random-effects columns (``[1, x]`` for ``(1 + x | g)``).
        groups : ndarray of int, shape (n,)
            Group code ``0 .. n_groups - 1`` of every row.
        n_groups : int, optional
            Defaults to ``groups.max() + 1``.

        Raises
        ------
        ValueError
            If a group code has no rows or a column of Z is all zero.
        """
        y = np.atleast_2d(np.asarray(y, dtype=float))
        X, Z = np.asarray(X, dtype=float), np.asarray(Z, dtype=float)
        groups = np.asarray(groups, dtype=np.intp)
        n_groups = int(groups.max()) + 1 if n_groups is None else int(n_groups)
        counts = np.bincount(groups, minlength=n_groups)
        if (counts == 0).any():
            raise ValueError("every group code 0 .. n_groups - 1 needs at least one observation")
        order = np.argsort(groups, kind="stable")
        if (order != np.arange(order.size)).any():   # reduceat needs each group's rows together
            y, X, Z, groups = y[:, order], X[order], Z[order], groups[order]
        z_scale = np.sqrt((Z ** 2).mean(axis=0))
        if (z_scale == 0).any():
            raise ValueError("a random-effects column is zero in every row")
        x_map = standardizing_map(X[None])
        design = _design_parts(X @ x_map[0], Z / z_scale, groups, counts)
        beta_offset, y_w, y_scale, exact = _residual_response(y, X, x_map, design)
        qy, wxy, wyy = _response_parts(y_w, design)
        root, qx, group_class, multiplicity = _classes(design.root, design.qx)
        sy, syy = _class_sums(qy, group_class, multiplicity.size)
        return cls(counts=counts, group_class=group_class, multiplicity=multiplicity,
                   root=root[None], qx=qx[None], qy=qy, sy=sy, syy=syy, wxx=design.wxx[None],
                   wxy=wxy, wyy=wyy, x_map=x_map, z_scale=z_scale, beta_offset=beta_offset,
                   y_scale=y_scale, exact=exact)

    @property
    def n_reps(self) -> int:
        return self.qy.shape[0]

    @property
    def n_groups(self) -> int:
        return self.counts.size

    @property
    def n_fixed(self) -> int:
        return self.qx.shape[-1]

    @property
    def q(self) -> int:
        return self.root.shape[-1]

    @property
    def nobs(self) -> int:
        return int(self.counts.sum())

    @cached_property
    def log_det_map(self) -> np.ndarray:
        """``log |det M|``, shape (1,): the Jacobian between working and data units."""
        return np.linalg.slogdet(self.x_map)[1]

    @property
    def ztz(self) -> np.ndarray:
        """``Z_i'Z_i`` (working units), shape (1, G, q, q)."""
        root = self.root[:, self.group_class]
        return _t(root) @ root

    @property
    def ztx(self) -> np.ndarray:
        """``Z_i'X_i`` (working units), shape (1, G, q, p)."""
        return _t(self.root[:, self.group_class]) @ self.qx[:, self.group_class]

    @property
    def zty(self) -> np.ndarray:
        """``Z_i'y_i`` (working units), shape (R, G, q)."""
        return (_t(self.root[:, self.group_class]) @ self.qy[..., None])[..., 0]

    @property
    def xtx(self) -> np.ndarray:
        """``X'X`` (working units), shape (1, p, p)."""
        return self.wxx + (self.multiplicity[:, None, None] * _t(self.qx) @ self.qx).sum(axis=1)

    @property
    def xty(self) -> np.ndarray:
        """``X'y`` (working units), shape (R, p)."""
        return self.wxy + np.einsum("kqp,rkq->rp", self.qx[0], self.sy)

    @property
    def yty(self) -> np.ndarray:
        """``y'y`` (working units), shape (R,)."""
        return self.wyy + np.trace(self.syy, axis1=-2, axis2=-1).sum(axis=1)

    def replicates(self, index: slice) -> "CrossProducts":
        """The cross products of the replicates in ``index`` (the design is shared)."""
        picked = {name: getattr(self, name)[index]
                  for name in ("qy", "sy", "syy", "wxy", "wyy", "beta_offset", "y_scale", "exact")}
        return replace(self, **picked)

    def to_work(self, theta: np.ndarray, layout: ThetaLayout) -> np.ndarray:
        """lme4's ``theta`` (data units) -> working units: row ``a`` of Lambda times ``z_scale[a]``."""
        return np.asarray(theta, dtype=float) * self.z_scale[layout.index[0]]

    def to_data(self, theta_work: np.ndarray, layout: ThetaLayout) -> np.ndarray:
        """Working ``theta`` -> lme4's ``theta`` in the data's units."""
        return np.asarray(theta_work, dtype=float) / self.z_scale[layout.index[0]]


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


class _Design(NamedTuple):
    """Design-only parts of :class:`CrossProducts` (no replicate axis)."""

    Z_w: np.ndarray       # (n, q)
    X_w: np.ndarray       # (n, p)
    x_dev: np.ndarray     # (n, p): X_w minus its projection on each group's Z_i
    rows: np.ndarray      # (n,) group code of each row (rows sorted by group)
    starts: np.ndarray    # (G,) first row of each group
    root: np.ndarray      # (G, q, q)
    to_q: np.ndarray      # (G, q, q): Q_i'v = to_q Z_i'v
    pinv: np.ndarray      # (G, q, q): (Z_i'Z_i)^+
    qx: np.ndarray        # (G, q, p)
    wxx: np.ndarray       # (p, p)


def _design_parts(X_w: np.ndarray, Z_w: np.ndarray, rows: np.ndarray,
                  counts: np.ndarray) -> _Design:
    """Per-group factors of ``Z_i'Z_i`` and the between/within split of ``X_w``."""
    starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.intp)
    ztz = np.add.reduceat(Z_w[:, :, None] * Z_w[:, None, :], starts, axis=0)
    ztx = np.add.reduceat(Z_w[:, :, None] * X_w[:, None, :], starts, axis=0)
    evals, evecs = np.linalg.eigh(ztz)
    kept = evals > RANK_RTOL * evals[:, -1:]
    safe = np.where(kept, evals, 1.0)
    root = (np.sqrt(safe) * kept)[..., None] * _t(evecs)
    to_q = (kept / np.sqrt(safe))[..., None] * _t(evecs)
    pinv = evecs @ ((kept / safe)[..., None] * _t(evecs))
    x_dev = X_w - np.einsum("nq,nqp->np", Z_w, (pinv @ ztx)[rows])
    # Columns in the span of every Z_i (the intercept) leave rounding noise only.
    x_dev[:, (x_dev ** 2).sum(axis=0) <= WITHIN_RTOL * X_w.shape[0]] = 0.0
    return _Design(Z_w, X_w, x_dev, rows, starts, root, to_q, pinv, to_q @ ztx,
                   x_dev.T @ x_dev)


def _classes(root: np.ndarray, qx: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pool groups with bit-identical design blocks: ``(root, qx, group_class, multiplicity)``.

    Identical rows of Z and X in the same order give identical sums and
    factors, so a balanced design has one class; anything else only pools less.
    """
    key = np.concatenate([root.reshape(root.shape[0], -1), qx.reshape(qx.shape[0], -1)], axis=1)
    _, first, group_class, multiplicity = np.unique(key, axis=0, return_index=True,
                                                    return_inverse=True, return_counts=True)
    return root[first], qx[first], group_class.reshape(-1), multiplicity.astype(float)


def _class_sums(qy: np.ndarray, group_class: np.ndarray, n_classes: int) -> tuple[np.ndarray, ...]:
    """Sums of ``qy`` (R, G, q) and of its outer products over each class."""
    order = np.argsort(group_class, kind="stable")
    starts = np.searchsorted(group_class[order], np.arange(n_classes))
    qy = qy[:, order]
    return (np.add.reduceat(qy, starts, axis=1),
            np.add.reduceat(qy[..., :, None] * qy[..., None, :], starts, axis=1))


def _residual_response(y: np.ndarray, X: np.ndarray, x_map: np.ndarray,
                       design: _Design) -> tuple[np.ndarray, ...]:
    """``(beta0, y_w, y_scale, exact)``: y's scaled residual on X, ``y = y_scale y_w + X beta0``.

    As in :mod:`simlab.model.profiled`: a least-squares step on ``X_w``
    removes offsets and the overall fit, a second step on the within-group
    parts of ``X_w`` removes the within-group fit (what fits with large
    ``Lambda`` are made of), so the sums stay on the scale of what is left.
    Any ``beta0`` keeps the model the same; the residual is exact for it.
    """
    X_w, x_dev = design.X_w, design.x_dev
    step = np.linalg.solve(X_w.T @ X_w, X_w.T @ y.T).T                       # (R, p)
    within = y @ x_dev - step @ design.wxx                                   # x_dev'(y - X_w step)
    # pinv: columns constant within groups (the intercept) have no within part.
    diagonal = np.diagonal(design.wxx)
    scale = np.sqrt(np.where(diagonal > 0, diagonal, 1.0))
    gram_pinv = np.linalg.pinv(design.wxx / np.outer(scale, scale), rcond=1e-10, hermitian=True)
    step = step + (within / scale) @ gram_pinv / scale
    beta0 = step @ x_map[0].T
    resid, rms, size = accurate_residual(y, X[None], beta0)
    exact = rms <= EXACT_FIT_RTOL * size
    y_scale = np.where(rms > 0, rms, 1.0)
    return beta0, resid / y_scale[:, None], y_scale, exact


def _response_parts(y_w: np.ndarray, design: _Design) -> tuple[np.ndarray, ...]:
    """``(qy, wxy, wyy)`` of the working response ``y_w`` (R, n)."""
    zty = np.add.reduceat(y_w[..., None] * design.Z_w, design.starts, axis=1)    # (R, G, q)
    coef = (design.pinv @ zty[..., None])[..., 0]
    y_dev = y_w - np.einsum("nq,rnq->rn", design.Z_w, coef[:, design.rows])
    return (design.to_q @ zty[..., None])[..., 0], y_dev @ design.x_dev, (y_dev ** 2).sum(axis=1)


class Evaluation(NamedTuple):
    """The profiled quantities at working ``Lambda``; leading axes (R, m), working units.

    ``value`` is the criterion in the data's units; ``gradient`` (if asked
    for) is its derivative with respect to the *working* ``Lambda``, a full
    (q, q) matrix of which the layout's entries are the gradient in ``theta``.
    """

    value: np.ndarray        # (R, m)
    beta: np.ndarray         # (R, m, p)
    a_inv: np.ndarray        # (R, m, p, p)
    r2: np.ndarray           # (R, m)
    logdet_h: np.ndarray     # (R, m): sum_i log det M_i
    logdet_a: np.ndarray     # (R, m)
    h_inv: np.ndarray        # (R, m, K, q, q): H^-1 of each class
    gradient: np.ndarray | None


def _h_inverse(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(H^-1, log det H)`` for a stack of ``H = I + B B'``, from ``B`` (..., q, q).

    For q = 2, ``det H = 1 + tr(B B') + det(B)^2``: a sum of non-negative
    terms, exact where ``h11 h22 - h12^2`` would cancel for a nearly
    rank-one ``B B'`` (a correlation near +-1, large ``Lambda``).
    """
    q = b.shape[-1]
    s = b @ _t(b)
    if q == 1:
        h = 1.0 + s
        return 1.0 / h, np.log(h[..., 0, 0])
    h = s + np.eye(q)
    if q == 2:
        det_b = b[..., 0, 0] * b[..., 1, 1] - b[..., 0, 1] * b[..., 1, 0]
        det = 1.0 + s[..., 0, 0] + s[..., 1, 1] + det_b ** 2
        adj = np.empty_like(h)
        adj[..., 0, 0], adj[..., 1, 1] = h[..., 1, 1], h[..., 0, 0]
        adj[..., 0, 1], adj[..., 1, 0] = -h[..., 0, 1], -h[..., 1, 0]
        return adj / det[..., None, None], np.log(det)
    chol = np.linalg.cholesky(h)
    return np.linalg.inv(h), 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)


def _equilibrated_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A^-1, log det A)``; A is scaled to a unit diagonal first.

    Between-group directions of A shrink like ``1 / Lambda^2`` while the
    within-group ones do not, so A is badly scaled, not ill-conditioned.
    """
    d = 1.0 / np.sqrt(np.diagonal(a, axis1=-2, axis2=-1))
    outer = d[..., :, None] * d[..., None, :]
    try:
        inv = np.linalg.inv(a * outer)
    except np.linalg.LinAlgError:
        # A search probing huge Lambda: what lies in every Z_i's span drops out of A.
        # NaN there (the criterion is undefined), without stopping the other stacks.
        evals, evecs = np.linalg.eigh(a * outer)
        recip = 1.0 / np.where(evals > 0, evals, np.nan)          # NaN for that matrix only
        inv = evecs @ (recip[..., None] * _t(evecs))
    return inv * outer, np.linalg.slogdet(a * outer)[1] - 2 * np.log(d).sum(-1)


def evaluate(cp: CrossProducts, lam: np.ndarray, reml: bool, gradient: bool = False) -> Evaluation:
    """The profiled criterion and its building blocks at working ``Lambda``.

    ``H_i = I + root_i Lambda Lambda' root_i'`` has ``log det H_i = log det M_i``
    (Sylvester); ``A = W_xx + sum_i qx_i' H_i^-1 qx_i`` and likewise ``c`` and
    the response's sum of squares, so ``r2 = y'y_(A) - c'A^-1 c``. Every sum
    over groups runs over classes: ``sum_i qy_i' H^-1 qy_i = tr(H^-1 syy)``.

    Parameters
    ----------
    cp : CrossProducts
    lam : ndarray, shape (R or 1, m, q, q)
        ``m`` working ``Lambda`` matrices per replicate.
    reml : bool
        REML criterion, else ML deviance.
    gradient : bool
        Also the derivative with respect to the working ``Lambda``.
    """
    b = cp.root[:, None] @ lam[:, :, None]                               # (R, m, K, q, q)
    h_inv, logdet = _h_inverse(b)
    hx = h_inv @ cp.qx[:, None]                                           # (R, m, K, q, p)
    hs = (h_inv @ cp.sy[:, None, :, :, None])[..., 0]                     # (R, m, K, q)
    qx_t = _t(cp.qx)[:, None]
    mult = cp.multiplicity
    a = cp.wxx[:, None] + (mult[:, None, None] * (qx_t @ hx)).sum(axis=2)
    c = cp.wxy[:, None] + (qx_t @ hs[..., None])[..., 0].sum(axis=2)
    yy = cp.wyy[:, None] + (cp.syy[:, None] * h_inv).sum(axis=(2, 3, 4))
    a_inv, logdet_a = _equilibrated_inverse(a)
    beta = (a_inv @ c[..., None])[..., 0]
    r2 = yy - (c * beta).sum(axis=-1)
    logdet_h = (mult * logdet).sum(axis=-1)
    n, p = cp.nobs, cp.n_fixed
    dof = n - p if reml else n
    with np.errstate(divide="ignore", invalid="ignore"):
        # In data units: r2 scales by y_scale^2 and log det A by -2 log |det M|.
        value = logdet_h + dof * (1.0 + np.log(2 * np.pi * r2 / dof) + 2 * np.log(cp.y_scale[:, None]))
        if reml:
            value = value + logdet_a - 2 * cp.log_det_map[:, None]
    grad = None
    if gradient:
        grad = _gradient(cp, lam, h_inv, hx, beta, a_inv, dof / r2, reml)
    return Evaluation(value, beta, a_inv, r2, logdet_h, logdet_a, h_inv, grad)


def _gradient(cp: CrossProducts, lam: np.ndarray, h_inv: np.ndarray, hx: np.ndarray,
              beta: np.ndarray, a_inv: np.ndarray, weight: np.ndarray, reml: bool) -> np.ndarray:
    """Derivative of the criterion with respect to every entry of the working ``Lambda``.

    With ``dH_i = R (E Lambda' + Lambda E') R'`` (``R = root_i``) for a unit
    change ``E`` of one entry: ``d log det H_i`` gives ``2 R'H^-1R Lambda``;
    the envelope theorem gives ``d r2 = -2 sum_i (R'w_i)(R'w_i)' Lambda`` with
    ``w_i = H_i^-1 e_i``, ``e_i = qy_i - qx_i beta`` (summed over a class
    through ``syy`` and ``sy``); ``d log det A`` gives
    ``-2 sum_i (R'H^-1 qx_i) A^-1 (R'H^-1 qx_i)' Lambda``.
    ``weight`` is ``dof / r2``, the derivative of ``dof log r2``.
    """
    mult = cp.multiplicity[:, None, None]
    root_t = _t(cp.root)[:, None]
    fit = cp.qx[:, None] @ beta[:, :, None, :, None]                      # (R, m, K, q, 1)
    cross = cp.sy[:, None, :, :, None] @ _t(fit)
    resid = cp.syy[:, None] - cross - _t(cross) + mult * (fit @ _t(fit))  # sum_i e_i e_i'
    left = root_t @ h_inv
    total = (mult * (left @ cp.root[:, None])).sum(axis=2)
    total = total - weight[..., None, None] * (left @ resid @ _t(left)).sum(axis=2)
    if reml:
        px = root_t @ hx
        total = total - (mult * (px @ a_inv[:, :, None] @ _t(px))).sum(axis=2)
    return 2 * total @ lam


def criterion(cp: CrossProducts, layout: ThetaLayout, theta: np.ndarray,
              reml: bool = True) -> np.ndarray:
    """REML criterion or ML deviance at lme4's ``theta`` (data units), in the data's units.

    Parameters
    ----------
    theta : ndarray, shape (R or 1, k) or (R or 1, m, k)

    Returns
    -------
    ndarray, shape (R,) or (R, m)
    """
    theta = np.asarray(theta, dtype=float)
    lam = layout.lam(cp.to_work(theta if theta.ndim == 3 else theta[:, None], layout))
    value = evaluate(cp, lam, reml).value
    return value if theta.ndim == 3 else value[:, 0]


def criterion_and_gradient(cp: CrossProducts, layout: ThetaLayout, theta: np.ndarray,
                           reml: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """:func:`criterion` and its gradient in lme4's ``theta``: shapes (R,) and (R, k)."""
    theta = np.asarray(theta, dtype=float)
    ev = evaluate(cp, layout.lam(cp.to_work(theta, layout))[:, None], reml, gradient=True)
    grad_work = layout.theta(ev.gradient[:, 0])
    return ev.value[:, 0], grad_work * cp.z_scale[layout.index[0]]


class _Local(NamedTuple):
    """One local search: working ``theta``, criterion, its cost and how it ended."""

    x: np.ndarray
    fun: float
    nfev: int          # theta points evaluated
    nit: int           # Newton iterations (vectorised evaluations: two each)
    message: str


def local_fit(cp: CrossProducts, layout: ThetaLayout, start: np.ndarray, reml: bool = True,
              pinned: np.ndarray | None = None, max_iter: int = 200) -> _Local:
    """Projected Newton search from ``start`` (working units) for one replicate.

    Each iteration takes the Newton step of :func:`_newton_model` on the
    free elements and tries the projected path ``max(x + t d, lower)`` at
    every ``t`` of :data:`STEP_FRACTIONS` in one vectorised evaluation,
    keeping the longest step with sufficient (Armijo) decrease. A diagonal
    element at 0 whose slope is positive stays there; ``pinned`` ones (a
    face of the bounds) always do. The search ends when the projected
    gradient vanishes to rounding, the step is below rounding or no step
    decreases the criterion; near the optimum the steps are Newton's, so
    ``theta`` is exact to rounding error rather than to an optimiser's
    tolerance. scipy's L-BFGS-B needs as many evaluations one at a time,
    and its BLAS calls stall in OpenBLAS threads on a busy machine.

    Parameters
    ----------
    cp : CrossProducts
        One replicate (``R = 1``).
    start : ndarray, shape (k,)
    pinned : ndarray of bool, shape (k,), optional
        Diagonal elements held at 0.
    """
    pinned = np.zeros(layout.size, dtype=bool) if pinned is None else np.asarray(pinned, dtype=bool)
    lower = np.where(pinned, 0.0, layout.lower)
    x = np.maximum(np.where(pinned, 0.0, np.asarray(start, dtype=float)), lower)
    nfev, message, slope, noise_step, previous = 0, "iteration limit reached", np.inf, False, None
    for nit in range(1, max_iter + 1):
        value, grad, hess = _newton_model(cp, layout, x, reml)
        nfev += 2 * layout.size + 1
        free = ~(pinned | (layout.on_diagonal & (x <= 0.0) & (grad > 0.0)))
        last_slope, slope = slope, np.abs(grad[free]).max(initial=0.0)
        if not np.isfinite(value) or slope <= 1e-13 * (1 + abs(value)):
            message = ("projected gradient below rounding" if np.isfinite(value)
                       else "criterion undefined")
            break
        if noise_step and slope >= last_slope:
            x, value = previous                       # that step did not help: undo it
            message = "the criterion is flat to rounding"
            break
        step = np.zeros_like(x)
        step[free] = _descent(hess[np.ix_(free, free)], grad[free], x)
        path = np.maximum(x + STEP_FRACTIONS[:, None] * step, lower)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = evaluate(cp, layout.lam(path)[None], reml).value[0]
        nfev += STEP_FRACTIONS.size
        rounding = 1e-12 * (1 + abs(value))
        # Near the optimum the decrease is below the criterion's rounding, and
        # comparing values picks steps at random: take Newton's full step
        # while the slope keeps falling.
        noise_step = -(grad @ step) < rounding and values[0] <= value + rounding
        decrease = ~noise_step & (values <= value + 1e-4 * ((path - x) @ grad))
        if not (decrease.any() or noise_step):
            message = "no decrease along the Newton step"
            break
        best = np.argmax(decrease) if decrease.any() else 0
        previous, x_new = (x, value), path[best]
        small = np.abs(x_new - x).max() <= 1e-13 * max(1.0, np.abs(x).max())
        x, value = x_new, float(values[best])
        if small:
            message = "step below rounding"
            break
    return _Local(x, float(value), nfev, nit, message)


def _newton_model(cp: CrossProducts, layout: ThetaLayout, x: np.ndarray,
                  reml: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """``(value, gradient, Hessian)`` at working ``theta`` ``x`` from one vectorised evaluation.

    The Hessian is the central difference of the analytic gradient at
    ``x +- delta_j e_j`` (the criterion is smooth in every entry of Lambda,
    also across 0, so the points may leave the bounds).
    """
    k = x.size
    delta = 1e-4 * np.maximum(np.abs(x), 1e-2)
    points = np.repeat(x[None], 2 * k + 1, axis=0)
    points[np.arange(k), np.arange(k)] += delta
    points[k + np.arange(k), np.arange(k)] -= delta
    with np.errstate(divide="ignore", invalid="ignore"):
        ev = evaluate(cp, layout.lam(points)[None], reml, gradient=True)
    grads = layout.theta(ev.gradient[0])
    hess = (grads[:k] - grads[k:2 * k]) / (2 * delta[:, None])
    return float(ev.value[0, -1]), grads[-1], 0.5 * (hess + hess.T)


def _descent(hess: np.ndarray, grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Newton step with the Hessian's eigenvalues made positive, capped in length.

    Where the criterion is not convex (far from the optimum) the absolute
    eigenvalues keep the step a descent direction; the cap keeps a nearly
    flat direction (theta running off to infinity) from overflowing.
    """
    if not np.isfinite(hess).all():
        return -grad
    evals, evecs = np.linalg.eigh(hess)
    size = np.abs(evals).max(initial=0.0)
    evals = np.maximum(np.abs(evals), 1e-8 * size + 1e-300)
    step = -evecs @ ((evecs.T @ grad) / evals)
    cap = STEP_CAP * max(1.0, np.abs(x).max())
    return step * min(1.0, cap / max(np.abs(step).max(), 1e-300))


def projected_gradient(cp: CrossProducts, layout: ThetaLayout, theta_work: np.ndarray,
                       reml: bool) -> np.ndarray:
    """Gradient in working ``theta`` (R, k), zero where a bound holds the optimum.

    At a diagonal element equal to 0 only a negative slope (the criterion
    falls into the interior) counts against optimality.
    """
    ev = evaluate(cp, layout.lam(theta_work)[:, None], reml, gradient=True)
    grad = layout.theta(ev.gradient[:, 0])
    at_bound = layout.on_diagonal & (theta_work <= 0.0)
    return np.where(at_bound, np.minimum(grad, 0.0), grad)


def theta_grid(layout: ThetaLayout) -> np.ndarray:
    """Working ``theta`` values (m, k) that screen the space before local searches.

    A product grid up to three parameters (it includes every face of the
    bounds); beyond that multiples of lme4's start.
    """
    if layout.size > 3:
        return np.array(GRID_DIAGONAL)[:, None] * layout.start
    axes = [GRID_DIAGONAL if diag else GRID_OFFDIAGONAL for diag in layout.on_diagonal]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, layout.size)


def moment_start(cp: CrossProducts, layout: ThetaLayout) -> np.ndarray:
    """Working ``theta`` (R, k) from moments of the per-group regressions on ``Z_i``.

    The spread of the groups' coefficients less their average sampling
    variance estimates ``Lambda Lambda'`` (clipped to be positive
    semi-definite, then factored block by block). Groups that do not
    identify every coefficient are left out; with fewer than two others,
    lme4's start.
    """
    root = cp.root[0, cp.group_class]
    full = (root ** 2).sum(axis=-1).min(axis=-1) > 0
    if full.sum() < 2:
        return np.broadcast_to(layout.start, (cp.n_reps, layout.size)).copy()
    root_inv = np.linalg.inv(root[full])
    coef = (root_inv @ cp.qy[:, full, :, None])[..., 0]                       # (R, G', q)
    ranks = ((root ** 2).sum(axis=-1) > 0).sum()
    sigma2 = cp.wyy / max(cp.nobs - ranks, 1)
    centred = coef - coef.mean(axis=1, keepdims=True)
    spread = _t(centred) @ centred / (full.sum() - 1)
    sampling = (root_inv @ _t(root_inv)).mean(axis=0)
    target = spread / np.maximum(sigma2, 1e-300)[:, None, None] - sampling
    evals, evecs = np.linalg.eigh(target)
    target = evecs @ (np.maximum(evals, 0.0)[..., None] * _t(evecs)) + 1e-8 * np.eye(cp.q)
    lam, start = np.zeros_like(target), 0
    for size in layout.blocks:
        block = slice(start, start + size)
        lam[:, block, block] = np.linalg.cholesky(target[:, block, block])
        start += size
    return layout.theta(lam)


def _optimise(cp: CrossProducts, layout: ThetaLayout, reml: bool,
              starts: list[np.ndarray]) -> tuple[np.ndarray, int, int, str]:
    """The global minimum for one replicate: ``(theta_work, evaluations, iterations, message)``.

    Local searches run from every distinct start, then on each face of the
    bounds (one diagonal element held at 0, from the best point so far),
    since lme4's single search from its start can stop at a boundary local
    optimum or miss one. A face optimum is searched once more without the
    pin, in case the criterion falls from it into the interior.
    """
    runs: list[_Local] = []
    for number, start in enumerate(starts):
        if not any(np.array_equal(start, other) for other in starts[:number]):
            runs.append(local_fit(cp, layout, start, reml))
    best = min(runs, key=lambda run: run.fun)
    for j in np.flatnonzero(layout.on_diagonal):
        pinned = np.arange(layout.size) == j
        runs.append(local_fit(cp, layout, best.x, reml, pinned))
    best = min(runs, key=lambda run: run.fun)
    if (best.x[layout.on_diagonal] == 0).any():
        runs.append(local_fit(cp, layout, best.x, reml))
        best = min(runs, key=lambda run: run.fun)
    return best.x, sum(run.nfev for run in runs), sum(run.nit for run in runs), best.message


@dataclass(frozen=True)
class RelCovFit:
    """Optimum of the profiled criterion and the estimates there, for every replicate.

    Everything is in the data's units; lme4's names in brackets.

    Attributes
    ----------
    layout : ThetaLayout
    reml : bool
    theta : ndarray, shape (R, k)
        lme4's ``theta`` (``getME(m, "theta")``).
    theta_work : ndarray, shape (R, k)
        The same in the working units of :class:`CrossProducts`.
    beta : ndarray, shape (R, p)
        Fixed effects (``fixef``).
    sigma : ndarray, shape (R,)
        Residual standard deviation (REML or ML, as fitted).
    vcov : ndarray, shape (R, p, p)
        ``sigma^2 A^-1`` (``vcov``).
    re_cov : ndarray, shape (R, q, q)
        Covariance of the random effects, ``sigma^2 Lambda Lambda'`` (``VarCorr``).
    modes : ndarray, shape (R, G, q)
        Conditional modes ``b_i = Lambda M_i^-1 Lambda' Z_i'(y_i - X_i beta)`` (``ranef``).
    mode_cov : ndarray, shape (R, G, q, q)
        Conditional covariances ``sigma^2 Lambda M_i^-1 Lambda'`` (``condVar``).
    value : ndarray, shape (R,)
        REML criterion (``REMLcrit``) or ML deviance (``deviance``).
    converged : ndarray of bool, shape (R,)
        The projected gradient vanishes (to :data:`GRADIENT_TOL`) and the
        residual variance is identified.
    evaluations : ndarray of int, shape (R,)
        ``theta`` points at which the local searches evaluated the criterion
        (the screening grid is extra).
    iterations : ndarray of int, shape (R,)
        Newton iterations of all local searches, two vectorised evaluations each.
    messages : tuple of str
        The optimiser's message for each replicate.
    """

    layout: ThetaLayout
    reml: bool
    theta: np.ndarray
    theta_work: np.ndarray
    beta: np.ndarray
    sigma: np.ndarray
    vcov: np.ndarray
    re_cov: np.ndarray
    modes: np.ndarray
    mode_cov: np.ndarray
    value: np.ndarray
    converged: np.ndarray
    evaluations: np.ndarray
    iterations: np.ndarray
    messages: tuple[str, ...]

    @property
    def lam(self) -> np.ndarray:
        """lme4's ``Lambda`` block (data units), shape (R, q, q)."""
        return self.layout.lam(self.theta)

    @property
    def sd(self) -> np.ndarray:
        """Standard deviation of each random effect, shape (R, q)."""
        return np.sqrt(np.diagonal(self.re_cov, axis1=-2, axis2=-1))

    @property
    def corr(self) -> np.ndarray:
        """Correlations of the random effects, shape (R, q, q); NaN where an sd is 0."""
        sd = self.sd
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.re_cov / (sd[..., :, None] * sd[..., None, :])

    @property
    def mode_sd(self) -> np.ndarray:
        """Conditional standard deviations of the modes, shape (R, G, q)."""
        return np.sqrt(np.diagonal(self.mode_cov, axis1=-2, axis2=-1))

    @property
    def loglik(self) -> np.ndarray:
        """Log-likelihood of the fit as estimated: REML for REML fits, else ML."""
        return -0.5 * self.value

    @property
    def singular(self) -> np.ndarray:
        """A diagonal element of ``Lambda`` is 0 (lme4's ``isSingular``, without its tolerance)."""
        return (self.theta[:, self.layout.on_diagonal] == 0.0).any(axis=-1)


def fit(cp: CrossProducts, layout: ThetaLayout, reml: bool = True) -> RelCovFit:
    """Minimise the profiled criterion over the bounded ``theta`` for every replicate.

    Starts: lme4's (the identity in working units, where it does not
    depend on the scale of x), the moment estimates (:func:`moment_start`)
    and the best point of a coarse grid (:func:`theta_grid`, one vectorised
    evaluation for all replicates). :func:`_optimise` runs a projected
    Newton search (:func:`local_fit`) from each and on every face of the
    bounds and keeps the best, so the fit is the global minimum where lme4
    may stop at a local one. The replicates are searched one at a time.

    A fit is converged when the projected gradient vanishes (to
    :data:`GRADIENT_TOL`); not when the residual variance runs to 0 (no
    variation left within groups). Replicates whose fixed effects
    reproduce y exactly are not fitted (theta NaN, sigma 0, criterion
    ``-inf``, not converged).
    """
    if cp.q != layout.q:
        raise ValueError(f"the layout has q = {layout.q}, the cross products q = {cp.q}")
    grid = theta_grid(layout)
    grid_values = _grid_values(cp, layout, grid, reml)
    moments = moment_start(cp, layout)
    theta_work = np.broadcast_to(layout.start, (cp.n_reps, layout.size)).copy()
    counts = np.zeros((2, cp.n_reps), dtype=int)                # evaluations, iterations
    messages = ["the fixed effects fit y exactly: nothing to estimate"] * cp.n_reps
    for r in np.flatnonzero(~cp.exact):
        starts = [layout.start, moments[r], grid[np.nanargmin(grid_values[r])]]
        theta_work[r], counts[0, r], counts[1, r], messages[r] = _optimise(
            cp.replicates(slice(r, r + 1)), layout, reml, starts)
    gradient = projected_gradient(cp, layout, theta_work, reml)
    converged = (np.abs(gradient).max(axis=-1) <= GRADIENT_TOL) & ~cp.exact
    # Without residual variation within groups (y_w has unit mean square) sigma is not identified.
    runaway = _still_falling(cp, layout, theta_work, reml) | (cp.wyy <= WITHIN_RTOL * cp.nobs)
    runaway &= ~cp.exact
    for r in np.flatnonzero(runaway):
        messages[r] = ("the criterion still falls as Lambda grows: the residual variance "
                       "goes to 0 (each group fitted exactly by its own random effects?)")
    return _assemble(cp, layout, theta_work, reml, converged & ~runaway, counts, tuple(messages))


def _still_falling(cp: CrossProducts, layout: ThetaLayout, theta_work: np.ndarray,
                   reml: bool) -> np.ndarray:
    """Replicates (R,) whose criterion is lower at 10 times the fitted ``Lambda``.

    With no residual variation left within groups the criterion falls
    without bound as ``Lambda`` grows; a search then stops wherever its
    steps become too small to matter, which is no optimum.
    """
    lam = layout.lam(np.stack([theta_work, 10 * theta_work], axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = evaluate(cp, lam, reml).value
    return value[:, 1] < value[:, 0] - 1e-9 * (1 + np.abs(value[:, 0]))


def _grid_values(cp: CrossProducts, layout: ThetaLayout, grid: np.ndarray, reml: bool) -> np.ndarray:
    """The criterion at every grid point for every replicate, (R, m), in chunks of replicates.

    Chunks keep the (R, m, classes, q, q) intermediates to a few megabytes.
    """
    per_replicate = grid.shape[0] * cp.multiplicity.size * cp.q * max(cp.q, cp.n_fixed)
    chunk = max(1, 2 ** 18 // per_replicate)
    lam = layout.lam(grid)[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.concatenate([evaluate(cp.replicates(slice(start, start + chunk)), lam, reml).value
                               for start in range(0, cp.n_reps, chunk)])


def _assemble(cp: CrossProducts, layout: ThetaLayout, theta_work: np.ndarray, reml: bool,
              converged: np.ndarray, counts: np.ndarray, messages: tuple[str, ...]) -> RelCovFit:
    """Estimates at working ``theta`` (R, k), mapped to the data's units."""
    lam = layout.lam(theta_work)
    ev = evaluate(cp, lam[:, None], reml)
    x_map, scale = cp.x_map, cp.y_scale
    dof = cp.nobs - (cp.n_fixed if reml else 0)
    sigma = np.where(cp.exact, 0.0, scale * np.sqrt(np.maximum(ev.r2[:, 0], 0.0) / dof))
    beta = scale[:, None] * (x_map @ ev.beta[:, 0, :, None])[..., 0] + cp.beta_offset
    vcov = sigma[:, None, None] ** 2 * (x_map @ ev.a_inv[:, 0] @ _t(x_map))
    to_data = 1.0 / cp.z_scale[:, None]                  # Lambda = Lambda_w / z_scale, by rows
    lam_data = lam * to_data
    # b_i = Lambda Lambda' root' H^-1 (qy - qx beta), by the push-through identity.
    group_class = cp.group_class
    resid = cp.qy[..., None] - cp.qx[:, group_class] @ ev.beta[:, 0, None, :, None]
    left = (lam @ _t(lam))[:, None] @ _t(cp.root) @ ev.h_inv[:, 0]          # (R, K, q, q)
    modes_w = left[:, group_class] @ resid
    m_inv = np.linalg.inv(np.eye(cp.q) + _t(lam)[:, None] @ _t(cp.root) @ cp.root @ lam[:, None])
    cond = (lam[:, None] @ m_inv @ _t(lam)[:, None] * (to_data * to_data.T))[:, group_class]
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(cp.exact, -np.inf, ev.value[:, 0])
    return RelCovFit(
        layout=layout, reml=reml, theta=np.where(cp.exact[:, None], np.nan, layout.theta(lam_data)),
        theta_work=np.where(cp.exact[:, None], np.nan, theta_work), beta=beta, sigma=sigma,
        vcov=vcov, re_cov=sigma[:, None, None] ** 2 * (lam_data @ _t(lam_data)),
        modes=scale[:, None, None] * modes_w[..., 0] * to_data[:, 0],
        mode_cov=sigma[:, None, None, None] ** 2 * cond, value=value, converged=converged,
        evaluations=counts[0], iterations=counts[1], messages=messages)


class VarCorrRows(NamedTuple):
    """lme4's ``as.data.frame(VarCorr(m))`` for one replicate, as arrays.

    ``block`` numbers the random term (lme4's ``grp`` is the group name,
    suffixed ``.1``, ``.2`` for the second and later terms), -1 for the
    residual. ``var1``/``var2`` index the random effects (-1 for none).
    """

    block: np.ndarray
    var1: np.ndarray
    var2: np.ndarray
    vcov: np.ndarray
    sdcor: np.ndarray


def varcorr(result: RelCovFit, rep: int = 0) -> VarCorrRows:
    """Variances, then covariances (lower triangle by columns) per block, then the residual."""
    cov, sd, corr = result.re_cov[rep], result.sd[rep], result.corr[rep]
    rows: list[tuple[int, int, int, float, float]] = []
    start = 0
    for number, size in enumerate(result.layout.blocks):
        idx = range(start, start + size)
        rows += [(number, a, -1, cov[a, a], sd[a]) for a in idx]
        rows += [(number, b, a, cov[a, b], corr[a, b]) for b in idx for a in idx if a > b]
        start += size
    rows.append((-1, -1, -1, result.sigma[rep] ** 2, result.sigma[rep]))
    block, var1, var2, vcov, sdcor = zip(*rows)
    return VarCorrRows(np.array(block), np.array(var1), np.array(var2), np.array(vcov), np.array(sdcor))
