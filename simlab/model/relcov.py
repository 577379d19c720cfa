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

As in :mod:`simlab.model.intercept`, every array carries a leading replicate
axis ``R`` (length 1 for arrays shared by all replicates, such as those of
the design), and the sums are built in *working units* so that shifts and
rescalings of the data change nothing.

:func:`fit` reports the global minimum over the bounded ``theta``: lme4's
single search from its start can end at a boundary local optimum, so
searches run from several starts and on every face of the bounds, and
they reflect columns of ``Lambda`` at the bounds rather than clip them
(:func:`canonical`), which leaves no false optima on the faces. The
searches of all replicates and starts run together, vectorised.

This module knows nothing about pandas or formulas: it sees arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import NamedTuple

import numpy as np

from .intercept import EXACT_FIT_RTOL, accurate_residual, standardizing_map

__all__ = [
    "ThetaLayout",
    "CrossProducts",
    "Evaluation",
    "RelCovFit",
    "evaluate",
    "criterion",
    "criterion_and_gradient",
    "fit",
    "local_fit",
    "projected_gradient",
    "canonical",
    "theta_grid",
    "moment_start",
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
#: A search at a saddle on a face of the bounds steps this far (times ``max(1, |theta|)``) off it.
NUDGE = 1e-2
#: A fitted diagonal element this small (times ``max(1, |theta|)``) is tried at exactly 0.
SNAP = 1e-6
#: The moment start's eigenvalues of ``Lambda Lambda'`` are at least this fraction of
#: the largest: a start next to a face, where the criterion is flat, costs iterations.
MOMENT_FLOOR = 0.05
#: A search whose Newton step is this short (times ``max(1, |theta|)``), with a positive
#: definite Hessian, is in the quadratic basin of its optimum: it stops when that is (this
#: close to) one another search of its replicate has found, or predicted no lower.
MERGE = 1e-3
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

    Working units, as :class:`simlab.model.intercept.GroupSums`: ``X_w = X M``
    (:func:`~simlab.model.intercept.standardizing_map`), ``Z_w = Z / z_scale``
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

    The replicates share one design (:meth:`from_arrays`: the design's
    arrays have a leading axis of 1), or each has its own (:meth:`stack`,
    ``stacked``: a leading axis R on the design's arrays too, ``counts``
    and ``group_class`` of shape (R, G), classes padded to the largest
    number with empty ones).

    Attributes
    ----------
    counts : ndarray, shape (G,) or (R, G)
        Rows per group.
    group_class : ndarray of int, shape (G,) or (R, G)
        Class of each group.
    multiplicity : ndarray, shape (K,) or (R, K)
        Groups per class.
    root : ndarray, shape (1 or R, K, q, q)
        ``root_i`` with ``root_i' root_i = Z_i'Z_i`` (rows of directions the
        group does not identify are 0).
    qx : ndarray, shape (1 or R, K, q, p)
        ``Q_i'X_i``.
    qy : ndarray, shape (R, G, q)
        ``Q_i'y_i`` of every group.
    sy, syy : ndarray, shapes (R, K, q), (R, K, q, q)
        Sums of ``Q_i'y_i`` and of its outer product over each class.
    wxx, wxy, wyy : ndarray, shapes (1 or R, p, p), (R, p), (R,)
        Cross products of the within-group parts (residuals of each group's
        regression on ``Z_i``).
    x_map : ndarray, shape (1 or R, p, p)
        ``M`` with ``X_w = X M``.
    z_scale : ndarray, shape (q,) or (R, q)
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
        sy, syy = _class_sums(qy, design.group_class, design.multiplicity.size)
        return cls(counts=counts, group_class=design.group_class, multiplicity=design.multiplicity,
                   root=design.root[None], qx=design.qx[None], qy=qy, sy=sy, syy=syy,
                   wxx=design.wxx[None],
                   wxy=wxy, wyy=wyy, x_map=x_map, z_scale=z_scale, beta_offset=beta_offset,
                   y_scale=y_scale, exact=exact)

    @classmethod
    def stack(cls, items: "list[CrossProducts]") -> "CrossProducts":
        """The replicates of ``items``, each with its own design, as one batch.

        Every item needs the same number of groups, random effects and
        fixed effects; classes are padded with empty ones (no groups, zero
        blocks), which add nothing to any sum. :func:`fit` of the stack is
        the fit of each item alone.
        """
        items = list(items)
        if not items:
            raise ValueError("nothing to stack")
        shapes = {(item.n_groups, item.q, item.n_fixed) for item in items}
        if len(shapes) > 1:
            raise ValueError(f"items differ in (groups, random effects, fixed effects): {sorted(shapes)}")
        width = max(item.multiplicity.shape[-1] for item in items)
        ends = np.cumsum([item.n_reps for item in items])
        out = {}
        for name in cls.__dataclass_fields__:
            values = []
            for item in items:
                value = getattr(item, name)
                if not item.stacked and name in ("counts", "group_class", "multiplicity", "z_scale"):
                    value = value[None]                              # one design for the item
                values.append(np.broadcast_to(value, (item.n_reps,) + value.shape[1:]))
            shape = values[0].shape[1:]
            padded = name in ("multiplicity", "root", "qx", "sy", "syy")   # classes: empty ones
            if padded:
                shape = (width,) + shape[1:]
            out[name] = np.zeros((int(ends[-1]),) + shape, dtype=values[0].dtype)
            for value, end in zip(values, ends):
                rows = slice(end - value.shape[0], end)
                out[name][(rows, slice(value.shape[1])) if padded else rows] = value
        return cls(**out)

    @property
    def stacked(self) -> bool:
        """Each replicate has its own design (:meth:`stack`)."""
        return self.group_class.ndim == 2

    @property
    def n_reps(self) -> int:
        return self.qy.shape[0]

    @property
    def n_groups(self) -> int:
        return self.counts.shape[-1]

    @property
    def n_fixed(self) -> int:
        return self.qx.shape[-1]

    @property
    def q(self) -> int:
        return self.root.shape[-1]

    @property
    def nobs(self) -> int | np.ndarray:
        """Rows; per replicate (R,) when :attr:`stacked`."""
        return self.counts.sum(axis=-1) if self.stacked else int(self.counts.sum())

    @cached_property
    def log_det_map(self) -> np.ndarray:
        """``log |det M|``, shape (1,): the Jacobian between working and data units."""
        return np.linalg.slogdet(self.x_map)[1]

    @cached_property
    def _kernel(self) -> "_Kernel":
        """The coefficients that evaluate the criterion at many points at once (:func:`_kernel`)."""
        return _kernel(self)

    def by_group(self, per_class: np.ndarray) -> np.ndarray:
        """Class arrays (1 or R, K, ...) of the design, per group: (1 or R, G, ...)."""
        if not self.stacked:
            return per_class[:, self.group_class]
        return per_class[np.arange(self.n_reps)[:, None], self.group_class]

    @property
    def ztz(self) -> np.ndarray:
        """``Z_i'Z_i`` (working units), shape (1 or R, G, q, q)."""
        root = self.by_group(self.root)
        return _t(root) @ root

    @property
    def ztx(self) -> np.ndarray:
        """``Z_i'X_i`` (working units), shape (1 or R, G, q, p)."""
        return _t(self.by_group(self.root)) @ self.by_group(self.qx)

    @property
    def zty(self) -> np.ndarray:
        """``Z_i'y_i`` (working units), shape (R, G, q)."""
        return (_t(self.by_group(self.root)) @ self.qy[..., None])[..., 0]

    @property
    def xtx(self) -> np.ndarray:
        """``X'X`` (working units), shape (1 or R, p, p)."""
        mult = np.reshape(self.multiplicity, (-1, self.multiplicity.shape[-1], 1, 1))
        return self.wxx + (mult * _t(self.qx) @ self.qx).sum(axis=1)

    @property
    def xty(self) -> np.ndarray:
        """``X'y`` (working units), shape (R, p)."""
        return self.wxy + np.einsum("rkqp,rkq->rp", np.broadcast_to(self.qx, self.sy.shape[:2]
                                                                    + self.qx.shape[2:]), self.sy)

    @property
    def yty(self) -> np.ndarray:
        """``y'y`` (working units), shape (R,)."""
        return self.wyy + np.trace(self.syy, axis1=-2, axis2=-1).sum(axis=1)

    def replicates(self, index: slice | np.ndarray) -> "CrossProducts":
        """The cross products of the replicates in ``index``."""
        names = ["qy", "sy", "syy", "wxy", "wyy", "beta_offset", "y_scale", "exact"]
        if self.stacked:
            names += ["counts", "group_class", "multiplicity", "root", "qx", "wxx", "x_map",
                      "z_scale"]
        out = replace(self, **{name: getattr(self, name)[index] for name in names})
        if "_kernel" in self.__dict__:   # the coefficients carry over: computing them costs more
            kern = self.__dict__["_kernel"]
            design = {name: getattr(kern, name)[index] for name in _STACKED_KERNEL} if self.stacked else {}
            out.__dict__["_kernel"] = kern._replace(
                cmap=kern.cmap[index], base=kern.base[index], sy=kern.sy[index],
                syy=kern.syy[index], dof=kern.dof[:, index], offset=kern.offset[:, index], **design)
        return out

    def theta_scale(self, layout: ThetaLayout, ndim: int = 2) -> np.ndarray:
        """``z_scale`` of the row of each element of ``theta``, for ``theta`` with ``ndim`` axes."""
        scale = self.z_scale[..., layout.index[0]]
        return scale[:, None] if self.stacked and ndim == 3 else scale

    def to_work(self, theta: np.ndarray, layout: ThetaLayout) -> np.ndarray:
        """lme4's ``theta`` (data units) -> working units: row ``a`` of Lambda times ``z_scale[a]``."""
        theta = np.asarray(theta, dtype=float)
        return theta * self.theta_scale(layout, theta.ndim)

    def to_data(self, theta_work: np.ndarray, layout: ThetaLayout) -> np.ndarray:
        """Working ``theta`` -> lme4's ``theta`` in the data's units."""
        theta_work = np.asarray(theta_work, dtype=float)
        return theta_work / self.theta_scale(layout, theta_work.ndim)


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


class _Design(NamedTuple):
    """Design-only parts of :class:`CrossProducts` (no replicate axis)."""

    Z_w: np.ndarray       # (n, q)
    X_w: np.ndarray       # (n, p)
    x_dev: np.ndarray     # (n, p): X_w minus its projection on each group's Z_i
    rows: np.ndarray      # (n,) group code of each row (rows sorted by group)
    starts: np.ndarray    # (G,) first row of each group
    group_class: np.ndarray   # (G,) class of each group
    multiplicity: np.ndarray  # (K,) groups per class
    root: np.ndarray      # (K, q, q)
    to_q: np.ndarray      # (K, q, q): Q_i'v = to_q Z_i'v
    pinv: np.ndarray      # (K, q, q): (Z_i'Z_i)^+
    qx: np.ndarray        # (K, q, p)
    wxx: np.ndarray       # (p, p)


def _design_parts(X_w: np.ndarray, Z_w: np.ndarray, rows: np.ndarray,
                  counts: np.ndarray) -> _Design:
    """Factors of ``Z_i'Z_i`` per class of groups and the between/within split of ``X_w``.

    Groups with bit-identical ``Z_i'Z_i`` and ``Z_i'X_i`` (identical rows of
    Z and X in the same order give identical sums) form one class and are
    factored once: a balanced design has one class; anything else only
    pools less.
    """
    starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.intp)
    ztz = np.add.reduceat(Z_w[:, :, None] * Z_w[:, None, :], starts, axis=0)
    ztx = np.add.reduceat(Z_w[:, :, None] * X_w[:, None, :], starts, axis=0)
    first, group_class, multiplicity = _classes(
        np.concatenate([ztz.reshape(ztz.shape[0], -1), ztx.reshape(ztx.shape[0], -1)], axis=1))
    ztz, ztx = ztz[first], ztx[first]
    evals, evecs = np.linalg.eigh(ztz)
    kept = evals > RANK_RTOL * evals[:, -1:]
    safe = np.where(kept, evals, 1.0)
    root = (np.sqrt(safe) * kept)[..., None] * _t(evecs)
    to_q = (kept / np.sqrt(safe))[..., None] * _t(evecs)
    pinv = evecs @ ((kept / safe)[..., None] * _t(evecs))
    x_dev = X_w - np.einsum("nq,nqp->np", Z_w, (pinv @ ztx)[group_class[rows]])
    # Columns in the span of every Z_i (the intercept) leave rounding noise only.
    x_dev[:, (x_dev ** 2).sum(axis=0) <= WITHIN_RTOL * X_w.shape[0]] = 0.0
    return _Design(Z_w, X_w, x_dev, rows, starts, group_class, multiplicity, root, to_q, pinv,
                   to_q @ ztx, x_dev.T @ x_dev)


def _classes(key: np.ndarray) -> tuple[np.ndarray, ...]:
    """Bit-identical rows of ``key`` (G, d): ``(first row of each class, class of each row, sizes)``.

    Classes in the rows' lexicographic order (``np.unique(axis=0)``'s, at a
    fraction of its cost).
    """
    order = np.lexsort(key.T[::-1])
    new = np.ones(order.size, dtype=bool)
    new[1:] = (key[order[1:]] != key[order[:-1]]).any(axis=1)
    starts = np.flatnonzero(new)
    group_class = np.empty(order.size, dtype=np.intp)
    group_class[order] = np.cumsum(new) - 1
    multiplicity = np.diff(np.append(starts, order.size)).astype(float)
    return order[starts], group_class, multiplicity


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

    As in :mod:`simlab.model.intercept`: a least-squares step on ``X_w``
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
    evals, evecs = np.linalg.eigh(design.wxx / np.outer(scale, scale))     # its pseudo-inverse
    kept = np.abs(evals) > 1e-10 * np.abs(evals).max(initial=0.0)
    gram_pinv = (evecs * (kept / np.where(kept, evals, 1.0))) @ evecs.T
    step = step + (within / scale) @ gram_pinv / scale
    beta0 = step @ x_map[0].T
    resid, rms, size = accurate_residual(y, X[None], beta0)
    exact = rms <= EXACT_FIT_RTOL * size
    y_scale = np.where(rms > 0, rms, 1.0)
    return beta0, resid / y_scale[:, None], y_scale, exact


def _response_parts(y_w: np.ndarray, design: _Design) -> tuple[np.ndarray, ...]:
    """``(qy, wxy, wyy)`` of the working response ``y_w`` (R, n)."""
    zty = np.add.reduceat(y_w[..., None] * design.Z_w, design.starts, axis=1)    # (R, G, q)
    coef = (design.pinv[design.group_class] @ zty[..., None])[..., 0]
    y_dev = y_w - np.einsum("nq,rnq->rn", design.Z_w, coef[:, design.rows])
    return ((design.to_q[design.group_class] @ zty[..., None])[..., 0], y_dev @ design.x_dev,
            (y_dev ** 2).sum(axis=1))


class Evaluation(NamedTuple):
    """The profiled quantities at working ``Lambda``; leading axes (R, m), working units.

    ``value`` is the criterion in the data's units; ``gradient`` (if asked
    for) is its derivative with respect to the *working* ``Lambda``, a full
    (q, q) matrix of which the layout's entries are the gradient in ``theta``.
    The fields that depend on ``Lambda`` only (``a_inv``, ``logdet_h``,
    ``logdet_a``, ``h_inv``) have a leading axis of length 1 when ``lam`` has.
    """

    value: np.ndarray        # (R, m)
    beta: np.ndarray         # (R, m, p)
    a_inv: np.ndarray        # (R, m, p, p)
    r2: np.ndarray           # (R, m)
    logdet_h: np.ndarray     # (R, m): sum_i log det M_i
    logdet_a: np.ndarray     # (R, m)
    h_inv: np.ndarray        # (R, m, K, q, q): H^-1 of each class
    gradient: np.ndarray | None


# --- the criterion at many points at once -----------------------------------------------------
#
# A symmetric q x q matrix is held as its q (q + 1) / 2 upper-triangle components
# (``_Kernel.pairs``), the classes of groups on the last axis: ``W[..., w, k]`` is
# component ``w`` of ``H^-1`` of class ``k``. Every sum over classes is then a
# product with a matrix of design coefficients (one BLAS call), and the q x q
# algebra is a handful of elementwise operations on arrays of all points: numpy's
# cost per call, not per matrix, is what a single fit pays, and a batch pays per
# element. Sums and products in the components, for ``H_i = I + root_i P root_i'``
# with ``P = Lambda Lambda'``:
#
#   H_i components        = smap' P components
#   A - W_xx              = amap' (m_i H_i^-1)                        (summed over classes)
#   [c - w_xy, yy - w_yy] = cmap_r' H_i^-1                            (per replicate r)
#   G_i = Q'X_i A^-1 X_i'Q = gmap' A^-1 components
#   gradient / 2 Lambda'  = rmap' (m_i W_i - W_i (weight E_i + m_i G_i) W_i)


def _pairs(q: int) -> tuple[tuple[int, int], ...]:
    """Components ``(i, j)``, ``i <= j``, of a symmetric q x q matrix, row by row."""
    return tuple((i, j) for i in range(q) for j in range(i, q))


def _lookup(q: int) -> np.ndarray:
    """Component of each entry of a symmetric q x q matrix, shape (q, q)."""
    out = np.empty((q, q), dtype=np.intp)
    for w, (i, j) in enumerate(_pairs(q)):
        out[i, j] = out[j, i] = w
    return out


class _Kernel(NamedTuple):
    """Coefficients of the criterion in the components (see the comment above).

    Design parts (shared by the replicates, or with a leading axis R when
    ``stacked``: each replicate has its own design) and response parts
    (leading axis R).
    """

    q: int
    p: int
    n_classes: int
    stacked: bool
    pairs: tuple[tuple[int, int], ...]
    lookup: np.ndarray       # (q, q)
    rows: np.ndarray         # (s,) first index of each component
    cols: np.ndarray         # (s,)
    p_lookup: np.ndarray     # (p, p)
    mult: np.ndarray         # ([R,] K) groups per class
    det_root: np.ndarray     # ([R,] K) det root_i (q = 2)
    smap: np.ndarray         # ([R,] s, s K)
    amap: np.ndarray         # ([R,] s K, sp)
    fmap: np.ndarray         # ([R,] p, q K): Q_i'X_i beta
    gmap: np.ndarray         # ([R,] sp, s K)
    rmap: np.ndarray         # ([R,] s K, s)
    wxx: np.ndarray          # ([R,] sp)
    cmap: np.ndarray         # (R, s K, p + 1)
    base: np.ndarray         # (R, p + 1): w_xy, w_yy
    sy: np.ndarray           # (R, q, K)
    syy: np.ndarray          # (R, s, K)
    dof: np.ndarray          # (2, R): ML (n), REML (n - p)
    offset: np.ndarray       # (2, R): ML, REML criteria's terms without Lambda


#: The design coefficients of :class:`_Kernel` with a leading replicate axis when ``stacked``.
_STACKED_KERNEL = ("mult", "det_root", "smap", "amap", "fmap", "gmap", "rmap", "wxx")


def _kernel(cp: "CrossProducts") -> _Kernel:
    """The coefficients of :class:`_Kernel` from the cross products."""
    root, qx = cp.root, cp.qx                                 # (D, K, q, q), (D, K, q, p)
    mult = np.reshape(cp.multiplicity, (-1, cp.multiplicity.shape[-1]))
    depth, n_classes, q, p = qx.shape
    pairs, p_pairs = _pairs(q), _pairs(p)
    s, sp = len(pairs), len(p_pairs)

    def sym(left: np.ndarray, right: np.ndarray, outer, inner) -> np.ndarray:
        """``[d, o, w, k] = L[d, k, a, i] R[d, k, b, j] (+ L[d, k, a, j] R[d, k, b, i] if i != j)``.

        ``(a, b)`` is component ``o`` of ``outer``, ``(i, j)`` component ``w`` of ``inner``.
        """
        out = np.empty((depth, len(outer), len(inner), n_classes))
        for o, (a, b) in enumerate(outer):
            for w, (i, j) in enumerate(inner):
                out[:, o, w] = left[..., a, i] * right[..., b, j]
                if i != j:
                    out[:, o, w] += left[..., a, j] * right[..., b, i]
        return out

    # S_ab = sum_ij R_ai P_ij R_bj; A_ab = sum_ij X_ia W_ij X_jb; G_ij = sum_ab X_ia Ainv_ab X_jb.
    smap = sym(root, root, pairs, pairs).transpose(0, 2, 1, 3).reshape(depth, s, s * n_classes)
    qxt = _t(qx)                                                              # (D, K, p, q)
    amap = (mult[:, None, None] * sym(qxt, qxt, p_pairs, pairs)).transpose(0, 2, 3, 1)
    amap = amap.reshape(depth, s * n_classes, sp)
    gmap = sym(qx, qx, pairs, p_pairs).transpose(0, 2, 1, 3).reshape(depth, sp, s * n_classes)
    root_t = _t(root)
    rmap = sym(root_t, root_t, pairs, pairs).transpose(0, 2, 3, 1).reshape(depth, s * n_classes, s)
    cmap = np.empty((cp.n_reps, p + 1, s, n_classes))
    sy = np.swapaxes(cp.sy, 1, 2)                                             # (R, q, K)
    syy = np.stack([cp.syy[:, :, i, j] for i, j in pairs], axis=1)            # (R, s, K)
    xq = np.swapaxes(qxt, 1, 3)                                               # (D, q, p, K)
    for w, (i, j) in enumerate(pairs):
        # c_a = sum_ij X_ia W_ij sy_j, yy = sum_ij W_ij syy_ij
        cmap[:, :p, w] = xq[:, i] * sy[:, None, j]
        if i != j:
            cmap[:, :p, w] += xq[:, j] * sy[:, None, i]
        cmap[:, p, w] = syy[:, w] * (1.0 if i == j else 2.0)
    rows, cols = np.array(pairs, dtype=np.intp).T
    det_root = (root[..., 0, 0] * root[..., 1, 1] - root[..., 0, 1] * root[..., 1, 0]
                if q == 2 else np.ones((depth, n_classes)))
    fmap = np.ascontiguousarray(qx.transpose(0, 3, 2, 1).reshape(depth, p, q * n_classes))
    wxx = cp.wxx[(slice(None),) + tuple(np.array(p_pairs, dtype=np.intp).T)]
    design = dict(zip(_STACKED_KERNEL, (mult, det_root, smap, amap, fmap, gmap, rmap, wxx)))
    if not cp.stacked:                                        # shared: plain matrices
        design = {name: value[0] for name, value in design.items()}
    nobs = np.broadcast_to(cp.nobs, (cp.n_reps,)).astype(float)
    return _Kernel(
        q=q, p=p, n_classes=n_classes, stacked=cp.stacked, pairs=pairs, lookup=_lookup(q),
        rows=rows, cols=cols, p_lookup=_lookup(p), **design,
        cmap=np.ascontiguousarray(cmap.reshape(cp.n_reps, p + 1, s * n_classes).swapaxes(1, 2)),
        base=np.concatenate([cp.wxy, cp.wyy[:, None]], axis=1), sy=sy, syy=syy,
        dof=np.stack([nobs, nobs - p]), offset=_offsets(cp))


def _offsets(cp: "CrossProducts") -> np.ndarray:
    """The ML and REML criteria less ``sum log det H_i + dof log r2`` (and ``log det A``), (2, R)."""
    out = []
    for dof, extra in ((cp.nobs, 0.0), (cp.nobs - cp.n_fixed, -2 * cp.log_det_map)):
        out.append(dof * (1.0 + np.log(2 * np.pi / dof) + 2 * np.log(cp.y_scale)) + extra)
    return np.stack(out)


def _design(kern: _Kernel, name: str, rep: np.ndarray) -> np.ndarray:
    """A design coefficient of :class:`_Kernel` for the replicates ``rep`` (stacked), else shared."""
    value = getattr(kern, name)
    return value[rep] if kern.stacked else value


def _times(a: np.ndarray, kern: _Kernel, name: str, rep: np.ndarray) -> np.ndarray:
    """``a`` (N or 1, m, d) times a design coefficient matrix: (N or 1, m, e).

    Shared designs: one matrix product of all points; stacked: one per replicate.
    """
    if kern.stacked:
        return np.matmul(a, getattr(kern, name)[rep])
    matrix = getattr(kern, name)
    return (a.reshape(-1, a.shape[-1]) @ matrix).reshape(a.shape[:-1] + matrix.shape[-1:])


def _per_class(kern: _Kernel, name: str, rep: np.ndarray, ndim: int) -> np.ndarray:
    """A per-class design array, (K,) or (N, 1, ..., K) to broadcast against ``ndim`` axes (N, ..., K)."""
    value = getattr(kern, name)
    if not kern.stacked:
        return value
    return value[rep].reshape((rep.size,) + (1,) * (ndim - 2) + (kern.n_classes,))


def _h_parts(kern: _Kernel, lam: np.ndarray, rep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(W, logdet_h)``: components of ``H_i^-1`` (N, m, s, K) and ``sum_i log det H_i`` (N, m).

    With a shared design and ``lam`` shared by the replicates (leading axis
    1), these have a leading axis of 1 too.

    For q = 2, ``det H = 1 + tr(B B') + det(B)^2`` with ``B = root Lambda``: a
    sum of non-negative terms, exact where ``h11 h22 - h12^2`` would cancel
    for a nearly rank-one ``B B'`` (a correlation near +-1, large ``Lambda``).
    """
    q, s, n_classes = kern.q, len(kern.pairs), kern.n_classes
    prod = np.einsum("...ik,...jk->...ij", lam, lam)[..., kern.rows, kern.cols]
    S = _times(prod, kern, "smap", rep)
    S = S.reshape(S.shape[:2] + (s, n_classes))
    if q == 1:
        logdet = np.log1p(S[:, :, 0])
        W = 1.0 / (1.0 + S)
    elif q == 2:
        det_lam = lam[..., 0, 0] * lam[..., 1, 1] - lam[..., 0, 1] * lam[..., 1, 0]
        d = det_lam[..., None] * _per_class(kern, "det_root", rep, 3)
        t = S[:, :, 0] + S[:, :, 2] + d * d
        logdet = np.log1p(t)
        inv = 1.0 / (1.0 + t)
        W = np.empty_like(S)
        np.multiply(S[:, :, 2] + 1.0, inv, out=W[:, :, 0])
        np.multiply(S[:, :, 1], -inv, out=W[:, :, 1])
        np.multiply(S[:, :, 0] + 1.0, inv, out=W[:, :, 2])
    else:
        h = np.moveaxis(S, 2, -1)[..., kern.lookup] + np.eye(q)              # (N, m, K, q, q)
        chol = np.linalg.cholesky(h)
        logdet = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
        W = np.moveaxis(np.linalg.inv(h)[..., kern.rows, kern.cols], -1, 2)
    if kern.stacked:
        return W, (logdet * _per_class(kern, "mult", rep, 3)).sum(axis=-1)
    return W, logdet @ kern.mult


def _spd_inverse(a: np.ndarray, lookup: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A^-1, log det A)`` for components ``a`` (..., p(p+1)/2) of positive definite A.

    A Cholesky factorisation in the components after scaling A to a unit
    diagonal: between-group directions of A shrink like ``1 / Lambda^2``
    while the within-group ones do not, so A is badly scaled, not
    ill-conditioned. NaN where A is not positive definite to rounding (a
    search probing huge Lambda: what lies in every Z_i's span drops out of A).
    """
    p = lookup.shape[0]
    if p == 1:
        return 1.0 / a, np.log(a[..., 0])
    if p == 2:
        a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
        d0, d1 = 1.0 / np.sqrt(a0), 1.0 / np.sqrt(a2)
        r = a1 * (d0 * d1)                                      # the scaled off-diagonal
        v = 1.0 - r * r
        v = np.where(v > 0, v, np.nan)
        inv_v = 1.0 / v
        out = np.empty(a.shape)
        out[..., 0] = inv_v / a0
        out[..., 1] = -(r * inv_v) * (d0 * d1)
        out[..., 2] = inv_v / a2
        return out, np.log(a0) + np.log(a2) + np.log(v)
    diag = [a[..., lookup[j, j]] for j in range(p)]
    d = [1.0 / np.sqrt(x) for x in diag]
    chol: dict[tuple[int, int], np.ndarray] = {}
    logdet = np.log(diag[0])
    for j in range(1, p):
        logdet = logdet + np.log(diag[j])
    for j in range(p):
        v = 1.0
        for k in range(j):
            v = v - chol[j, k] * chol[j, k]
        if j:
            v = np.where(v > 0, v, np.nan)
            logdet = logdet + np.log(v)
        chol[j, j] = np.sqrt(v)
        for i in range(j + 1, p):
            e = a[..., lookup[i, j]] * (d[i] * d[j])
            for k in range(j):
                e = e - chol[i, k] * chol[j, k]
            chol[i, j] = e / chol[j, j]
    inv: dict[tuple[int, int], np.ndarray] = {}                # L^-1, lower triangular
    for i in range(p):
        inv[i, i] = 1.0 / chol[i, i]
        for j in range(i - 1, -1, -1):
            e = chol[i, j] * inv[j, j]
            for k in range(j + 1, i):
                e = e + chol[i, k] * inv[k, j]
            inv[i, j] = -e * inv[i, i]
    out = np.empty(np.shape(diag[0]) + (p * (p + 1) // 2,))
    for a_ in range(p):
        for b in range(a_, p):
            e = inv[b, a_] * inv[b, b]
            for k in range(b + 1, p):
                e = e + inv[k, a_] * inv[k, b]
            out[..., lookup[a_, b]] = e * (d[a_] * d[b])
    return out, logdet


def _sym_triple(w: np.ndarray, x: np.ndarray, kern: _Kernel) -> np.ndarray:
    """Components of ``W X W`` for symmetric W, X given as components on axis 2."""
    q, lookup = kern.q, kern.lookup
    if q == 1:
        return w * x * w
    out = np.empty(np.broadcast_shapes(w.shape, x.shape))
    if q == 2:
        w0, w1, w2 = w[:, :, 0], w[:, :, 1], w[:, :, 2]
        x0, x1, x2 = x[:, :, 0], x[:, :, 1], x[:, :, 2]
        y00, y01 = w0 * x0 + w1 * x1, w0 * x1 + w1 * x2
        y10, y11 = w1 * x0 + w2 * x1, w1 * x1 + w2 * x2
        out[:, :, 0] = y00 * w0 + y01 * w1
        out[:, :, 1] = y00 * w1 + y01 * w2
        out[:, :, 2] = y10 * w1 + y11 * w2
        return out
    comp = [w[:, :, c] for c in range(w.shape[2])]
    xc = [x[:, :, c] for c in range(x.shape[2])]
    y = [[_sum(comp[lookup[i, k]] * xc[lookup[k, j]] for k in range(q)) for j in range(q)]
         for i in range(q)]
    for c, (i, j) in enumerate(kern.pairs):
        out[:, :, c] = _sum(y[i][k] * comp[lookup[k, j]] for k in range(q))
    return out


def _sum(terms) -> np.ndarray:
    """Sum of an iterable of arrays without the extra ``0 +`` of the builtin."""
    it = iter(terms)
    total = next(it)
    for term in it:
        total = total + term
    return total


class _Core(NamedTuple):
    """The criterion and its parts at points (N, m) (see :func:`_core`)."""

    value: np.ndarray
    beta: np.ndarray
    a_inv: np.ndarray        # components (N or 1, m, sp)
    r2: np.ndarray
    logdet_h: np.ndarray
    logdet_a: np.ndarray
    w: np.ndarray            # (N or 1, m, s, K)
    gradient: np.ndarray | None     # (N, m, q, q)


def _core(cp: "CrossProducts", kern: _Kernel, rep: np.ndarray, lam: np.ndarray, reml: bool,
          gradient: bool = False) -> _Core:
    """The criterion at working ``lam`` (N or 1, m, q, q) for replicates ``rep`` (N,).

    ``lam`` with a leading axis of 1 is shared by every replicate: the parts
    that depend on ``Lambda`` only are computed once.
    """
    m, p = lam.shape[1], kern.p
    W, logdet_h = _h_parts(kern, lam, rep)
    flat = W.reshape(W.shape[0], m, -1)
    a = _times(flat, kern, "amap", rep) + (kern.wxx[rep, None] if kern.stacked else kern.wxx)
    a_inv, logdet_a = _spd_inverse(a, kern.p_lookup)
    cy = np.matmul(flat, kern.cmap[rep]) + kern.base[rep, None]
    c, yy = cy[..., :p], cy[..., p]
    beta = (a_inv[..., kern.p_lookup] @ c[..., None])[..., 0]
    r2 = yy - (c * beta).sum(axis=-1)
    dof = kern.dof[int(reml)][rep, None]
    # In data units: r2 scales by y_scale^2 and log det A by -2 log |det M|.
    value = logdet_h + dof * np.log(r2) + kern.offset[int(reml)][rep, None]
    if reml:
        value = value + logdet_a
    grad = None
    if gradient:
        grad = _core_gradient(kern, rep, lam, W, a_inv, beta, dof / r2, reml)
    return _Core(value, beta, a_inv, r2, logdet_h, logdet_a, W, grad)


def _core_gradient(kern: _Kernel, rep: np.ndarray, lam: np.ndarray, W: np.ndarray,
                   a_inv: np.ndarray, beta: np.ndarray, weight: np.ndarray,
                   reml: bool) -> np.ndarray:
    """Derivative of the criterion with respect to every entry of the working ``Lambda``.

    With ``dH_i = R (E Lambda' + Lambda E') R'`` (``R = root_i``) for a unit
    change ``E`` of one entry: ``d log det H_i`` gives ``2 R'H^-1R Lambda``;
    the envelope theorem gives ``d r2 = -2 sum_i (R'w_i)(R'w_i)' Lambda`` with
    ``w_i = H_i^-1 e_i``, ``e_i = qy_i - qx_i beta`` (summed over a class
    through ``syy`` and ``sy``); ``d log det A`` gives
    ``-2 sum_i (R'H^-1 qx_i) A^-1 (R'H^-1 qx_i)' Lambda``. ``weight`` is
    ``dof / r2``, the derivative of ``dof log r2``. Together
    ``2 sum_i R' (m_i W - W (weight E + m_i G) W) R Lambda`` over classes.
    """
    n, m = beta.shape[:2]
    q, n_classes = kern.q, kern.n_classes
    mult = _per_class(kern, "mult", rep, 4)
    f = _times(beta, kern, "fmap", rep).reshape(n, m, q, n_classes)        # Q'X beta
    sy, syy = kern.sy[rep, None], kern.syy[rep, None]
    dev = sy - mult * f
    x = np.empty((n, m, len(kern.pairs), n_classes))
    for w, (i, j) in enumerate(kern.pairs):   # E = syy - sy f' - f sy' + m f f'
        x[:, :, w] = syy[:, :, w] - sy[:, :, i] * f[:, :, j] - f[:, :, i] * dev[:, :, j]
    x *= weight[..., None, None]
    if reml:
        g = _times(a_inv, kern, "gmap", rep)
        x += mult * g.reshape(g.shape[:2] + (-1, n_classes))
    middle = _sym_triple(W, x, kern)
    np.subtract(mult * W, middle, out=middle)
    total = _times(middle.reshape(n, m, -1), kern, "rmap", rep)
    return 2 * np.einsum("...ij,...jk->...ik", total[..., kern.lookup], lam)


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
    lam = np.asarray(lam, dtype=float)
    if lam.shape[0] not in (1, cp.n_reps):
        raise ValueError(f"lam has {lam.shape[0]} replicates, the cross products {cp.n_reps}")
    rep = np.arange(cp.n_reps)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        core = _core(cp, cp._kernel, rep, lam, reml, gradient)
    kern = cp._kernel
    h_inv = np.moveaxis(core.w, 2, -1)[..., kern.lookup]
    return Evaluation(core.value, core.beta, core.a_inv[..., kern.p_lookup], core.r2,
                      core.logdet_h, core.logdet_a, h_inv, core.gradient)


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
    return ev.value[:, 0], grad_work * cp.theta_scale(layout)


# --- the batched projected Newton search ------------------------------------------------------

#: Elements of the largest (points, components, classes) array of one vectorised
#: evaluation inside a search; larger batches run in chunks of points (this keeps
#: the arrays in cache and the BLAS calls single-threaded).
CHUNK_ELEMENTS = 2 ** 16

#: How a search ended (:data:`_MESSAGES` holds the words).
_LIMIT, _ROUNDING, _UNDEFINED, _FLAT, _NO_DECREASE, _SMALL_STEP, _EXACT, _MERGED = range(8)
_MESSAGES = ("iteration limit reached", "projected gradient below rounding",
             "criterion undefined", "the criterion is flat to rounding",
             "no decrease along the Newton step", "step below rounding",
             "the fixed effects fit y exactly: nothing to estimate",
             "converging to another search's optimum, or to none lower")


class _Problem(NamedTuple):
    """What a search evaluates: cross products, their kernel, the layout, REML or ML."""

    cp: CrossProducts
    kern: _Kernel
    layout: ThetaLayout
    reml: bool

    def values(self, rep: np.ndarray, x: np.ndarray,
               gradient: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Criterion (n, m) and its gradient in working ``theta`` (n, m, k) at ``x`` (n, m, k).

        Pair ``i`` belongs to replicate ``rep[i]``; evaluated in chunks of pairs.
        """
        n, m, k = x.shape
        lam = self.layout.lam(x)
        per_pair = m * len(self.kern.pairs) * self.kern.n_classes
        chunk = max(1, CHUNK_ELEMENTS // per_pair)
        rows, cols = self.layout.index
        if n <= chunk:
            core = _core(self.cp, self.kern, rep, lam, self.reml, gradient)
            return core.value, core.gradient[..., rows, cols] if gradient else None
        values = np.empty((n, m))
        grads = np.empty((n, m, k)) if gradient else None
        # Many classes: a pair's points in slices too.
        points = max(1, CHUNK_ELEMENTS // (len(self.kern.pairs) * self.kern.n_classes))
        for start in range(0, n, chunk):
            part = slice(start, start + chunk)
            for first in range(0, m, points):
                some = slice(first, first + points)
                core = _core(self.cp, self.kern, rep[part], lam[part, some], self.reml, gradient)
                values[part, some] = core.value
                if gradient:
                    grads[part, some] = core.gradient[..., rows, cols]
        return values, grads


class _Searches(NamedTuple):
    """Final state of a batch of local searches, one row per (replicate, start) pair."""

    x: np.ndarray            # (n, k) working theta
    value: np.ndarray        # (n,)
    nfev: np.ndarray         # (n,) theta points evaluated
    nit: np.ndarray          # (n,) Newton iterations
    message: np.ndarray      # (n,) index into _MESSAGES
    settled: np.ndarray      # (n,) ended at a zero projected gradient with every pinned slope > 0


def _model_points(x: np.ndarray) -> np.ndarray:
    """Points (n, k + 1, k) of the Newton model at ``x`` (n, k): ``x + delta_j e_j``, then ``x``."""
    n, k = x.shape
    points = np.repeat(x[:, None], k + 1, axis=1)
    diag = np.arange(k)
    points[:, diag, diag] += 1e-4 * np.maximum(np.abs(x), 1e-2)
    return points


def _model(points: np.ndarray, values: np.ndarray,
           grads: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(value, gradient, Hessian)`` at ``x`` from the criterion at :func:`_model_points`.

    The Hessian is the forward difference of the analytic gradient at
    ``x + delta_j e_j``, symmetrised: ``k + 1`` points. Its error of order
    ``delta`` only slows Newton's final convergence from quadratic to a
    fast linear rate; the central difference would cost ``2 k + 1`` points
    for about one iteration less in twenty. (The criterion is smooth in
    every entry of Lambda, also across 0, so the points may leave the bounds.)
    """
    k = points.shape[-1]
    delta = np.diagonal(points[:, :k] - points[:, k:], axis1=1, axis2=2)
    hess = (grads[:, :k] - grads[:, k:]) / delta[:, :, None]
    return values[:, k], grads[:, k], 0.5 * (hess + _t(hess))


def _newton_model(problem: _Problem, rep: np.ndarray,
                  x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(value, gradient, Hessian)`` at working ``theta`` ``x`` (n, k), one vectorised evaluation."""
    points = _model_points(x)
    return _model(points, *problem.values(rep, points, gradient=True))


def _descent(hess: np.ndarray, grad: np.ndarray, x: np.ndarray,
             free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps (n, k) on the ``free`` elements, Hessian eigenvalues made positive, capped.

    Also returns where the step is Newton's own: the Hessian positive
    definite on the free elements and the step not capped.

    Where the criterion is not convex (far from the optimum) the absolute
    eigenvalues keep the step a descent direction; the cap keeps a nearly
    flat direction (theta running off to infinity) from overflowing. The
    rows and columns of held elements are replaced by a multiple of the
    identity as large as the free block, so they neither mix into the step
    nor set its eigenvalue floor.
    """
    both = free[:, :, None] & free[:, None, :]
    h = np.where(both, hess, 0.0)
    g = np.where(free, grad, 0.0)
    finite = np.isfinite(h).all(axis=(1, 2))
    h[~finite] = 0.0
    size = np.sqrt((h * h).sum(axis=(1, 2)))
    fill = np.where(size > 0, size, 1.0)
    h = h + (~free * fill[:, None])[:, :, None] * np.eye(x.shape[1])
    evals, evecs = np.linalg.eigh(h)
    floor = (1e-8 * size + 1e-300)[:, None]
    convex = finite & (evals > floor).all(axis=1)
    evals = np.maximum(np.abs(evals), floor)
    step = -np.einsum("nij,nj->ni", evecs, np.einsum("nji,nj->ni", evecs, g) / evals)
    step = np.where(finite[:, None], step, -g)
    step = np.where(free, step, 0.0)
    cap = STEP_CAP * np.maximum(1.0, np.abs(x).max(axis=1))
    length = np.maximum(np.abs(step).max(axis=1), 1e-300)
    return step * np.minimum(1.0, cap / length)[:, None], convex & (length <= cap)


def canonical(layout: ThetaLayout, theta: np.ndarray) -> np.ndarray:
    """``theta`` (..., k) with every column of ``Lambda`` whose diagonal is negative negated.

    ``Lambda`` and ``Lambda`` with a column negated give the same
    ``Lambda Lambda'``, so the same model and criterion: lme4's lower bound
    0 on the diagonal only picks one of the two. It is no constraint of the
    model, and a search must not treat it as one: clipping a diagonal
    element at 0 leaves the rest of its column where it was (a different
    model), and the last element of a block, on which the criterion depends
    only through its square, has slope 0 there whatever the curvature, so
    a search clipped to it can stop at a saddle. Reflecting the column
    keeps searches on the smooth criterion over all of ``R^k``.
    """
    return theta * np.where(theta[..., _column_diagonal(layout)] < 0, -1.0, 1.0)


@lru_cache(maxsize=None)
def _column_diagonal(layout: ThetaLayout) -> np.ndarray:
    """For each element of ``theta``, the element on the diagonal of its column of ``Lambda``."""
    rows, cols = layout.index
    diagonal = {int(c): t for t, (r, c) in enumerate(zip(rows, cols)) if r == c}
    return np.array([diagonal[int(c)] for c in cols], dtype=np.intp)


class _Step(NamedTuple):
    """The outcome of a line search for each pair (see :func:`_step`)."""

    chosen: np.ndarray       # (n,) index into STEP_FRACTIONS, -1 for no decrease
    x: np.ndarray            # (n, k) the point taken
    value: np.ndarray        # (n,)
    noise: np.ndarray        # (n,) the decrease was below rounding
    grad: np.ndarray         # (n, k) the model at x where the full step was taken, else NaN
    hess: np.ndarray         # (n, k, k)
    evaluated: np.ndarray    # (n,) points the choice needed


def _step(problem: _Problem, rep: np.ndarray, x: np.ndarray, value: np.ndarray,
          grad: np.ndarray, step: np.ndarray) -> _Step:
    """The longest step of :data:`STEP_FRACTIONS` along ``step`` with sufficient decrease.

    The path is ``x + t d`` with columns reflected (:func:`canonical`).
    Near the optimum the decrease is below the criterion's rounding, and
    comparing values picks steps at random: then (``noise``) Newton's full
    step is taken while the slope keeps falling. The full step is tried
    first, with the points of the Newton model there in the same
    evaluation, which the next iteration needs if it is taken (as it is
    near the optimum); shorter steps are tried after it, all in that same
    evaluation when the batch is small (numpy's cost per call dominates),
    else in stages for the pairs still without a step. The choice is the
    same either way.
    """
    layout, kern = problem.layout, problem.kern
    n, k = x.shape
    rounding = 1e-12 * (1 + np.abs(value))
    slope = (grad * step).sum(axis=1)
    path = canonical(layout, x[:, None] + STEP_FRACTIONS[:, None] * step[:, None])
    full = path[:, 0]
    points = _model_points(full)
    shorter = np.arange(1, STEP_FRACTIONS.size)
    per_point = len(kern.pairs) * kern.n_classes
    together = n * (k + 1 + shorter.size) * per_point <= CHUNK_ELEMENTS
    if together:
        values, grads = problem.values(rep, np.concatenate([points, path[:, 1:]], axis=1),
                                       gradient=True)
        rest, values, grads = values[:, k + 1:], values[:, :k + 1], grads[:, :k + 1]
    else:
        values, grads = problem.values(rep, points, gradient=True)
    value1, grad1, hess1 = _model(points, values, grads)
    noise = (-slope < rounding) & (value1 <= value + rounding)
    took = noise | (value1 <= value + 1e-4 * slope)
    chosen = np.where(took, 0, -1)
    out_x = np.where(took[:, None], full, x)
    out_value = np.where(took, value1, np.nan)
    evaluated = np.where(took, k + 1, k + 1 + shorter.size)
    pending = np.flatnonzero(~took)
    stages = [shorter] if together else [shorter[:3], shorter[3:]]
    for stage in stages:
        if pending.size == 0:
            break
        t = STEP_FRACTIONS[stage]
        pts = path[pending][:, stage]
        if together:
            vals = rest[pending]
        else:
            vals, _ = problem.values(rep[pending], pts)
        decrease = vals <= value[pending, None] + 1e-4 * t * slope[pending, None]
        found = decrease.any(axis=1)
        first = np.argmax(decrease, axis=1)[found]
        hit = pending[found]
        chosen[hit] = stage[first]
        out_x[hit] = pts[found, first]
        out_value[hit] = vals[found, first]
        evaluated[hit] = k + 2 + first + (stage[0] - 1)
        pending = pending[~found]
    nan = ~took[:, None]
    return _Step(chosen, out_x, out_value, noise, np.where(nan, np.nan, grad1),
                 np.where(nan[:, :, None], np.nan, hess1), evaluated)


def _record_best(best_value: np.ndarray, best_x: np.ndarray, rep: np.ndarray, value: np.ndarray,
                 x: np.ndarray) -> None:
    """Lower ``best_value`` and move ``best_x`` (per replicate) to converged searches' optima."""
    order = np.argsort(-value, kind="stable")     # the lowest of a replicate is written last
    rep, value, x = rep[order], value[order], x[order]
    lower = value < best_value[rep]
    best_value[rep[lower]], best_x[rep[lower]] = value[lower], x[lower]


def _search(problem: _Problem, rep: np.ndarray, start: np.ndarray, pinned: np.ndarray,
            active: np.ndarray, max_iter: int = 200) -> _Searches:
    """Newton searches for many (replicate, start) pairs at once.

    Each iteration takes the Newton step of the model (:func:`_model`) on
    the free elements and tries the path ``x + t d`` (columns reflected,
    see :func:`canonical`) at the ``t`` of :data:`STEP_FRACTIONS`, keeping
    the longest step with sufficient (Armijo) decrease (:func:`_step`);
    ``pinned`` elements (a face of the bounds) stay at 0. A search ends
    when the gradient vanishes to rounding, the step is below rounding or
    no step decreases the criterion; near the optimum the steps are
    Newton's, so ``theta`` is exact to rounding error rather than to an
    optimiser's tolerance. Where a column of ``Lambda`` is (next to) 0 the
    slope of its diagonal element vanishes by symmetry whatever the
    curvature; where that is negative (a saddle) the search steps off the
    face (:data:`NUDGE`) and goes on. Searches that have ended drop out of
    the vectorised evaluations; each pair's path is the one it would
    follow alone, whatever else is in the batch.

    Parameters
    ----------
    rep : ndarray of int, shape (n,)
        Replicate of each pair.
    start : ndarray, shape (n, k)
        Working ``theta`` to start from.
    pinned : ndarray of bool, shape (n, k)
        Diagonal elements held at 0.
    active : ndarray of bool, shape (n,)
        Pairs to search (the others keep their start, value NaN, no cost).
    """
    n, k = start.shape
    on_diagonal = problem.layout.on_diagonal
    x = canonical(problem.layout, np.where(pinned, 0.0, start))
    free = ~pinned
    value, grad, hess = np.full(n, np.nan), np.full((n, k), np.nan), np.full((n, k, k), np.nan)
    slope = np.full(n, np.inf)
    noise = np.zeros(n, dtype=bool)
    previous = (x.copy(), value.copy())
    nfev, nit = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    message = np.full(n, _LIMIT)
    settled = np.zeros(n, dtype=bool)
    active = active.copy()
    stale = np.flatnonzero(active)                  # pairs whose model at x is still to compute
    n_reps = int(rep.max(initial=-1)) + 1
    best_value, best_x = np.full(n_reps, np.inf), np.full((n_reps, k), np.nan)   # per replicate
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for iteration in range(1, max_iter + 1):
            if stale.size:
                value[stale], grad[stale], hess[stale] = _newton_model(problem, rep[stale], x[stale])
                nfev[stale] += k + 1
            a = np.flatnonzero(active)
            if a.size == 0:
                break
            nit[a] = iteration
            xa, fa, val, ga, ha = x[a], free[a], value[a], grad[a], hess[a]
            last_slope = slope[a]
            slope[a] = new_slope = np.where(fa, np.abs(ga), 0.0).max(axis=1, initial=0.0)
            finite = np.isfinite(val)
            rounding = 1e-13 * (1 + np.abs(val))
            done = ~finite | (new_slope <= rounding)
            stale = np.empty(0, dtype=np.intp)
            jumped = np.zeros(a.size, dtype=bool)
            if done.any():
                d = np.flatnonzero(done)
                xd, vd, rd = xa[d], val[d], rounding[d]
                curvature = np.diagonal(ha[d], axis1=1, axis2=2)
                off = NUDGE * np.maximum(1.0, np.abs(xd).max(axis=1, keepdims=True))
                saddle = (fa[d] & on_diagonal & (np.abs(xd) < off)
                          & (curvature < -1e-8 * (1 + np.abs(vd))[:, None]))
                escape = finite[d] & saddle.any(axis=1)
                if escape.any():                        # off a saddle on a face
                    stale = a[d[escape]]
                    x[stale] = np.where(saddle[escape], off[escape], xd[escape])
                    slope[stale], noise[stale] = np.inf, False
                    done[d[escape]], jumped[d[escape]] = False, True
                    d, xd, vd, rd, curvature = (d[~escape], xd[~escape], vd[~escape], rd[~escape],
                                                curvature[~escape])
                fd = finite[d]
                message[a[d]] = np.where(fd, _ROUNDING, _UNDEFINED)
                _record_best(best_value, best_x, rep[a[d[fd]]], vd[fd], xd[fd])
                # A face optimum is one of the model when leaving the face does not lower the
                # criterion: no slope off it and (where the slope vanishes by symmetry) no
                # negative curvature.
                off_face = (np.abs(ga[d]) <= rd[:, None]) & (curvature >= 0)
                settled[a[d]] = fd & (fa[d] | off_face).all(axis=1)
            flat = ~done & noise[a] & (new_slope >= last_slope)
            if flat.any():
                undo = a[flat]                              # that step did not help: undo it
                x[undo], value[undo] = previous[0][undo], previous[1][undo]
                message[undo] = _FLAT
            active[a[done | flat]] = False
            go = ~(done | flat | jumped)
            b = a[go]
            if b.size == 0:
                continue
            xb, vb, gb, hb = xa[go], val[go], ga[go], ha[go]
            step, newton = _descent(hb, gb, xb, fa[go])
            # Searches of a replicate whose local optimum, as their Newton model
            # predicts it, is one already found, or no lower than the best found, stop.
            rb = rep[b]
            local = newton & (np.abs(step).max(axis=1) <= MERGE * np.maximum(1.0, np.abs(xb).max(axis=1)))
            local &= np.isfinite(best_value[rb])
            if local.any():
                target, top = best_x[rb], best_value[rb]
                predicted = vb + (gb * step).sum(axis=1) + 0.5 * np.einsum("ni,nij,nj->n", step, hb, step)
                same = (np.abs(xb + step - target).max(axis=1)
                        <= MERGE * np.maximum(1.0, np.abs(target).max(axis=1)))
                merged = local & (same | (predicted >= top + 1e-6 * (1 + np.abs(top))))
                message[b[merged]] = _MERGED
                active[b[merged]] = False
                keep = ~merged
                b, xb, vb, gb, hb, step = b[keep], xb[keep], vb[keep], gb[keep], hb[keep], step[keep]
                if b.size == 0:
                    continue
            taken = _step(problem, rep[b], xb, vb, gb, step)
            noise[b] = taken.noise
            nfev[b] += taken.evaluated
            stuck = taken.chosen < 0
            message[b[stuck]] = _NO_DECREASE
            active[b[stuck]] = False
            move = ~stuck
            m = b[move]
            previous[0][m], previous[1][m] = xb[move], vb[move]
            chosen = taken.chosen[move]
            small = (STEP_FRACTIONS[chosen] * np.abs(step[move]).max(axis=1)
                     <= 1e-13 * np.maximum(1.0, np.abs(xb[move]).max(axis=1)))
            x[m], value[m] = taken.x[move], taken.value[move]
            grad[m], hess[m] = taken.grad[move], taken.hess[move]
            message[m[small]] = _SMALL_STEP
            active[m[small]] = False
            # Moved less than the full step: the model at the new point is still to compute.
            stale = np.concatenate([stale, m[~small & (chosen > 0)]])
    return _Searches(x, value, nfev, nit, message, settled)


class _Local(NamedTuple):
    """One local search: working ``theta``, criterion, its cost and how it ended."""

    x: np.ndarray
    fun: float
    nfev: int          # theta points evaluated
    nit: int           # Newton iterations
    message: str


def local_fit(cp: CrossProducts, layout: ThetaLayout, start: np.ndarray, reml: bool = True,
              pinned: np.ndarray | None = None, max_iter: int = 200) -> _Local:
    """Newton search from ``start`` (working units) for one replicate.

    The search of :func:`fit` (see :func:`_search`) from one start, alone:
    it may end at a local optimum that :func:`fit`'s other starts avoid.
    scipy's L-BFGS-B needs as many evaluations one at a time, clips at the
    bounds (:func:`canonical` says why that misleads it), and its BLAS calls
    stall in OpenBLAS threads on a busy machine.

    Parameters
    ----------
    cp : CrossProducts
        One replicate (``R = 1``).
    start : ndarray, shape (k,)
    pinned : ndarray of bool, shape (k,), optional
        Diagonal elements held at 0.
    """
    pinned = np.zeros(layout.size, dtype=bool) if pinned is None else np.asarray(pinned, dtype=bool)
    problem = _Problem(cp, cp._kernel, layout, reml)
    found = _search(problem, np.zeros(1, dtype=np.intp), np.asarray(start, dtype=float)[None],
                    pinned[None], np.ones(1, dtype=bool), max_iter)
    return _Local(found.x[0], float(found.value[0]), int(found.nfev[0]), int(found.nit[0]),
                  _MESSAGES[found.message[0]])


def projected_gradient(cp: CrossProducts, layout: ThetaLayout, theta_work: np.ndarray,
                       reml: bool) -> np.ndarray:
    """Gradient in working ``theta`` (R, k): it vanishes at an optimum, also on the bounds.

    The bounds are no constraint of the model (:func:`canonical`): at a
    diagonal element equal to 0 a slope of either sign lowers the criterion
    (the column reflected), and where the column is 0 the slope is 0.
    """
    ev = evaluate(cp, layout.lam(theta_work)[:, None], reml, gradient=True)
    return layout.theta(ev.gradient[:, 0])


def theta_grid(layout: ThetaLayout) -> np.ndarray:
    """Working ``theta`` values (m, k) that screen the space before local searches.

    A product grid up to three parameters (it includes every face of the
    bounds); beyond that multiples of lme4's start.
    """
    return _theta_grid(layout).copy()


@lru_cache(maxsize=None)
def _theta_grid(layout: ThetaLayout) -> np.ndarray:
    if layout.size > 3:
        return np.array(GRID_DIAGONAL)[:, None] * layout.start
    axes = [GRID_DIAGONAL if diag else GRID_OFFDIAGONAL for diag in layout.on_diagonal]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, layout.size)


def moment_start(cp: CrossProducts, layout: ThetaLayout) -> np.ndarray:
    """Working ``theta`` (R, k) from moments of the per-group regressions on ``Z_i``.

    The spread of the groups' coefficients less their average sampling
    variance estimates ``Lambda Lambda'`` (its eigenvalues raised to
    :data:`MOMENT_FLOOR` times the largest, then factored block by block). Groups that do not
    identify every coefficient are left out; with fewer than two others,
    lme4's start.
    """
    n_reps, q = cp.n_reps, cp.q
    root = cp.root                                                            # (D, K, q, q)
    mult = np.reshape(cp.multiplicity, (-1, cp.multiplicity.shape[-1]))       # (D, K)
    identified = (root ** 2).sum(axis=-1) > 0                                 # (D, K, q)
    full_class = identified.all(axis=-1) & (mult > 0)
    n_full = np.broadcast_to((mult * full_class).sum(axis=-1), (n_reps,))
    lme4 = n_full < 2
    if lme4.all():
        return np.broadcast_to(layout.start, (n_reps, layout.size)).copy()
    root_inv = np.zeros_like(root)
    root_inv[full_class] = _small_inverse(root[full_class])
    weight = np.broadcast_to(cp.by_group(full_class), cp.qy.shape[:2]).astype(float)   # (R, G)
    inverse = np.broadcast_to(cp.by_group(root_inv), cp.qy.shape + (q,))
    coef = np.einsum("rgij,rgj->rgi", inverse, cp.qy)                           # (R, G, q)
    count = np.maximum(n_full, 2.0)
    centred = (coef - (weight[..., None] * coef).sum(axis=1, keepdims=True) / count[:, None, None])
    centred *= weight[..., None]
    ranks = (mult * identified.sum(axis=-1)).sum(axis=-1)
    sigma2 = cp.wyy / np.maximum(cp.nobs - ranks, 1)
    spread = _t(centred) @ centred / (count - 1)[:, None, None]
    sampling = (np.einsum("dk,dkij,dklj->dil", mult * full_class, root_inv, root_inv)
                / np.maximum(n_full[:root.shape[0]], 1.0)[:, None, None])
    target = spread / np.maximum(sigma2, 1e-300)[:, None, None] - sampling
    evals, evecs = np.linalg.eigh(target)
    floor = np.maximum(MOMENT_FLOOR * evals.max(axis=-1, keepdims=True), 1e-8)
    target = evecs @ (np.maximum(evals, floor)[..., None] * _t(evecs))
    lam, start = np.zeros_like(target), 0
    for size in layout.blocks:
        block = slice(start, start + size)
        lam[:, block, block] = np.linalg.cholesky(target[:, block, block])
        start += size
    return np.where(lme4[:, None], layout.start, layout.theta(lam))


def _face_starts(layout: ThetaLayout, grid: np.ndarray, grid_values: np.ndarray) -> np.ndarray:
    """Starts (R, d, k) of the searches on each face (diagonal element ``j`` held at 0).

    The best point of the grid on that face other than ``Lambda = 0`` (where
    every slope vanishes), else lme4's start with element ``j`` at 0.
    """
    faces = np.flatnonzero(layout.on_diagonal)
    out = np.empty((grid_values.shape[0], faces.size, layout.size))
    nonzero = (grid != 0).any(axis=1)
    for number, j in enumerate(faces):
        on_face = (grid[:, j] == 0) & nonzero
        fallback = np.where(np.arange(layout.size) == j, 0.0, layout.start)
        if not on_face.any():
            out[:, number] = fallback
            continue
        values = np.where(on_face & ~np.isnan(grid_values), grid_values, np.inf)
        best = np.argmin(values, axis=1)
        out[:, number] = np.where(np.isfinite(values.min(axis=1))[:, None], grid[best], fallback)
    return out


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
        ``theta`` points at which the local searches needed the criterion:
        ``k + 1`` per Newton model, and the step lengths tried up to the one
        taken (the screening grid is extra).
    iterations : ndarray of int, shape (R,)
        Newton iterations of all local searches of the replicate.
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
    evaluation for all replicates) off the faces of the bounds; and on each
    face (one diagonal element held at 0) from the best grid point on it
    (:func:`_face_starts`), since one search can end at a local optimum or
    miss one on a face. The projected Newton
    searches (:func:`_search`) of every (replicate, start) pair run
    together, vectorised, with no loop over replicates; each replicate
    keeps its best. Where that is a face optimum from which the criterion
    falls into the interior, one more search starts there without the pin.
    A replicate's result does not depend on the others in the batch, nor on
    whether they share its design (:meth:`CrossProducts.from_arrays`) or
    each has its own (:meth:`CrossProducts.stack`, as in a sweep).

    A fit is converged when the projected gradient vanishes (to
    :data:`GRADIENT_TOL`); not when the residual variance runs to 0 (no
    variation left within groups). Replicates whose fixed effects
    reproduce y exactly are not fitted (theta NaN, sigma 0, criterion
    ``-inf``, not converged).
    """
    if cp.q != layout.q:
        raise ValueError(f"the layout has q = {layout.q}, the cross products q = {cp.q}")
    problem = _Problem(cp, cp._kernel, layout, reml)
    n_reps, k = cp.n_reps, layout.size
    grid = _theta_grid(layout)
    grid_values = _grid_values(problem, grid)
    interior = (grid[:, layout.on_diagonal] > 0).all(axis=1)       # the faces have their own starts
    best_grid = grid[np.argmin(np.where(interior & ~np.isnan(grid_values), grid_values, np.inf), axis=1)]
    free = [np.broadcast_to(layout.start, (n_reps, k)), moment_start(cp, layout), best_grid]
    starts = np.concatenate([np.stack(free, axis=1), _face_starts(layout, grid, grid_values)], axis=1)
    n_starts = starts.shape[1]
    pinned = np.zeros((n_starts, k), dtype=bool)
    faces = np.flatnonzero(layout.on_diagonal)
    pinned[len(free) + np.arange(faces.size), faces] = True
    live = np.repeat(~cp.exact[:, None], n_starts, axis=1)
    for later in range(1, len(free)):               # the same start twice is searched once
        for earlier in range(later):
            live[:, later] &= ~(starts[:, later] == starts[:, earlier]).all(axis=1)
    rep = np.repeat(np.arange(n_reps), n_starts)
    found = _search(problem, rep, starts.reshape(-1, k), np.tile(pinned, (n_reps, 1)), live.ravel())
    values = found.value.reshape(n_reps, n_starts)
    ended = live & (found.message.reshape(n_reps, n_starts) != _MERGED) & ~np.isnan(values)
    best = np.argmin(np.where(ended, values, np.inf), axis=1)
    pick = np.arange(n_reps) * n_starts + best
    theta_work, value, message = found.x[pick], found.value[pick], found.message[pick]
    counts = np.stack([found.nfev.reshape(n_reps, n_starts).sum(axis=1),
                       found.nit.reshape(n_reps, n_starts).sum(axis=1)])
    # A face optimum from which the criterion may fall off the face: search on without the pin.
    again = np.flatnonzero((best >= len(free)) & ~found.settled[pick] & ~cp.exact)
    if again.size:
        more = _search(problem, again, theta_work[again], np.zeros((again.size, k), dtype=bool),
                       np.ones(again.size, dtype=bool))
        counts[:, again] += np.stack([more.nfev, more.nit])
        better = np.where(np.isnan(value[again]), ~np.isnan(more.value), more.value < value[again])
        take = again[better]
        theta_work[take], message[take] = more.x[better], more.message[better]
        value[take] = more.value[better]
    theta_work = _snap(problem, theta_work, np.where(np.isnan(value), np.inf, value), ~cp.exact)
    theta_work[cp.exact] = layout.start
    message[cp.exact] = _EXACT
    return _finish(problem, theta_work, counts, message)


def _snap(problem: _Problem, theta_work: np.ndarray, value: np.ndarray,
          fitted: np.ndarray) -> np.ndarray:
    """Diagonal elements within :data:`SNAP` ``max(1, |theta|)`` of 0 set to 0 where that is as low.

    A search converging to a singular fit (the optimum on a face of the
    bounds) ends at a diagonal element of order ``1e-12`` rather than 0;
    where 0 gives the same criterion to rounding, the fit is the exactly
    singular one, as lme4 reports it.
    """
    layout = problem.layout
    size = SNAP * np.maximum(1.0, np.abs(theta_work).max(axis=-1, keepdims=True))
    tiny = layout.on_diagonal & (theta_work != 0) & (np.abs(theta_work) <= size)
    rows = np.flatnonzero(tiny.any(axis=1) & fitted)
    if rows.size == 0:
        return theta_work
    snapped = np.where(tiny[rows], 0.0, theta_work[rows])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        new, _ = problem.values(rows, snapped[:, None])
    keep = new[:, 0] <= value[rows] + 1e-12 * (1 + np.abs(value[rows]))
    out = theta_work.copy()
    out[rows[keep]] = snapped[keep]
    return out


def _grid_values(problem: _Problem, grid: np.ndarray) -> np.ndarray:
    """The criterion at every grid point for every replicate, (R, m), in chunks of replicates.

    The grid is shared: its ``H_i^-1`` and ``A^-1`` are computed once, each
    replicate adds products with its response sums.
    """
    cp, kern = problem.cp, problem.kern
    lam = problem.layout.lam(grid)[None]
    per_class = len(kern.pairs) * kern.n_classes
    chunk = max(1, 2 ** 18 // (per_class * (kern.p + 1) + grid.shape[0]))
    points = max(1, 2 ** 18 // per_class)                # many classes: the grid in slices
    reps = np.arange(cp.n_reps)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.concatenate([
            np.concatenate([_core(cp, kern, reps[start:start + chunk], lam[:, first:first + points],
                                  problem.reml).value
                            for first in range(0, grid.shape[0], points)], axis=1)
            for start in range(0, cp.n_reps, chunk)])


def _finish(problem: _Problem, theta_work: np.ndarray, counts: np.ndarray,
            message: np.ndarray) -> RelCovFit:
    """Estimates, convergence and messages at the optimum ``theta_work`` (R, k).

    One vectorised evaluation (in chunks of replicates) at ``Lambda`` and
    ``10 Lambda``: the projected gradient at the first decides convergence;
    a criterion still falling at the second means no optimum (see below).
    """
    cp, kern, layout, reml = problem
    n_reps = cp.n_reps
    chunk = max(1, 2 ** 17 // (2 * len(kern.pairs) * kern.n_classes))
    parts = []
    lam = layout.lam(np.stack([theta_work, 10 * theta_work], axis=1))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for start in range(0, n_reps, chunk):
            reps = np.arange(start, min(start + chunk, n_reps))
            parts.append(_core(cp, kern, reps, lam[reps], reml, gradient=True))

    def joined(name: str) -> np.ndarray:                # the fields at Lambda (point 0)
        if len(parts) == 1:
            return getattr(parts[0], name)[:, :1]
        return np.concatenate([getattr(core, name)[:, :1] for core in parts])

    value = np.concatenate([core.value for core in parts]) if len(parts) > 1 else parts[0].value
    gradient = joined("gradient")[:, 0]
    converged = (np.abs(layout.theta(gradient)).max(axis=-1) <= GRADIENT_TOL) & ~cp.exact
    # With no residual variation left within groups (y_w has unit mean square) the
    # criterion falls without bound as Lambda grows; a search then stops wherever
    # its steps become too small to matter, which is no optimum.
    runaway = value[:, 1] < value[:, 0] - 1e-9 * (1 + np.abs(value[:, 0]))
    runaway = (runaway | (cp.wyy <= WITHIN_RTOL * cp.nobs)) & ~cp.exact
    messages = [_MESSAGES[code] for code in message]
    for r in np.flatnonzero(runaway):
        messages[r] = ("the criterion still falls as Lambda grows: the residual variance "
                       "goes to 0 (each group fitted exactly by its own random effects?)")
    at = Evaluation(value=value[:, :1], beta=joined("beta"), a_inv=joined("a_inv")[..., kern.p_lookup],
                    r2=joined("r2"), logdet_h=joined("logdet_h"), logdet_a=joined("logdet_a"),
                    h_inv=np.moveaxis(joined("w"), 2, -1)[..., kern.lookup], gradient=gradient[:, None])
    return _assemble(cp, layout, theta_work, at, reml, converged & ~runaway, counts,
                     tuple(messages))


def _small_inverse(m: np.ndarray) -> np.ndarray:
    """Inverses of a stack of q x q matrices (closed forms for q <= 2)."""
    q = m.shape[-1]
    if q == 1:
        return 1.0 / m
    if q == 2:
        det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
        adj = np.empty_like(m)
        adj[..., 0, 0], adj[..., 1, 1] = m[..., 1, 1], m[..., 0, 0]
        adj[..., 0, 1], adj[..., 1, 0] = -m[..., 0, 1], -m[..., 1, 0]
        return adj / det[..., None, None]
    return np.linalg.inv(m)


def _assemble(cp: CrossProducts, layout: ThetaLayout, theta_work: np.ndarray, ev: Evaluation,
              reml: bool, converged: np.ndarray, counts: np.ndarray,
              messages: tuple[str, ...]) -> RelCovFit:
    """Estimates at working ``theta`` (R, k), from the evaluation ``ev`` there, in the data's units."""
    lam = layout.lam(theta_work)
    x_map, scale = cp.x_map, cp.y_scale
    dof = cp.nobs - (cp.n_fixed if reml else 0)
    sigma = np.where(cp.exact, 0.0, scale * np.sqrt(np.maximum(ev.r2[:, 0], 0.0) / dof))
    beta = scale[:, None] * (x_map @ ev.beta[:, 0, :, None])[..., 0] + cp.beta_offset
    vcov = sigma[:, None, None] ** 2 * (x_map @ ev.a_inv[:, 0] @ _t(x_map))
    to_data = 1.0 / cp.z_scale                           # Lambda = Lambda_w / z_scale, by rows
    lam_data = lam * to_data[..., :, None]
    outer = to_data[..., :, None] * to_data[..., None, :]
    # b_i = Lambda Lambda' root' H^-1 (qy - qx beta), by the push-through identity.
    resid = cp.qy[..., None] - cp.by_group(cp.qx) @ ev.beta[:, 0, None, :, None]
    left = (lam @ _t(lam))[:, None] @ _t(cp.root) @ ev.h_inv[:, 0]          # (R, K, q, q)
    modes_w = cp.by_group(left) @ resid
    # Lambda M^-1 Lambda' with M = I + B'B, B = root Lambda (det M = det H > 0).
    b = cp.root @ lam[:, None]
    m_inv = _small_inverse(np.eye(cp.q) + _t(b) @ b)
    cond = cp.by_group(lam[:, None] @ m_inv @ _t(lam)[:, None]
                       * (outer[:, None] if cp.stacked else outer))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(cp.exact, -np.inf, ev.value[:, 0])
    return RelCovFit(
        layout=layout, reml=reml, theta=np.where(cp.exact[:, None], np.nan, layout.theta(lam_data)),
        theta_work=np.where(cp.exact[:, None], np.nan, theta_work), beta=beta, sigma=sigma,
        vcov=vcov, re_cov=sigma[:, None, None] ** 2 * (lam_data @ _t(lam_data)),
        modes=scale[:, None, None] * modes_w[..., 0] * (to_data[:, None] if cp.stacked else to_data),
        mode_cov=sigma[:, None, None, None] ** 2 * cond, value=value, converged=converged,
        evaluations=counts[0], iterations=counts[1], messages=messages)
