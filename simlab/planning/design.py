"""The design a power analysis simulates from: a fixed X, groups and the true parameters.

As in simr, the design is fixed and only the response is random: each
simulation draws ``y = X beta + u[group] + e`` with ``u ~ N(0, tau^2)`` and
``e ~ N(0, sigma^2)`` and fits ``y ~ X + (1 | group)`` again. A design comes
from settings (:func:`design_from_settings`) or from a fitted model
(:func:`design_from_fit`, simr's ``extend``), and is cut to the first groups
or rows per group for a power curve (:meth:`PowerDesign.resized`).

The settings' covariates (the two textbook cases of a multilevel design):

- ``x``, a within-group covariate: the occasion ``0, 1, ..., n_i - 1``
  centred within its group, so it carries no between-group information
  (its test has ``N - G - 1`` df in a balanced design);
- ``z``, a cluster-level two-arm treatment: ``0`` and ``1`` alternating over
  the groups (``G // 2`` groups treated), constant within a group (its test
  has ``G - 2`` df).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from simlab._checks import check_int, is_int, name_list, real_number

__all__ = ["ALONG", "SETTINGS_EFFECTS", "PowerDesign", "design_from_fit",
           "design_from_settings"]

#: The design settings a power curve or a sample-size search may vary.
ALONG = ("n_groups", "n_per_group")
#: The fixed effects a design from settings can have, in column order.
SETTINGS_EFFECTS = ("(Intercept)", "x", "z")


@dataclass(frozen=True)
class PowerDesign:
    """A fixed design and the truth to simulate from.

    Attributes
    ----------
    X : ndarray, shape (n, p)
        Fixed-effects matrix; rows are sorted by group.
    names : tuple of str
        Column names of ``X`` (R's term names).
    groups : ndarray of int, shape (n,)
        Group code ``0 .. n_groups - 1`` of each row, non-decreasing.
    beta : ndarray, shape (p,)
        True fixed effects.
    tau, sigma : float
        True sds of the group effects and the residuals.
    """

    X: np.ndarray
    names: tuple[str, ...]
    groups: np.ndarray
    beta: np.ndarray
    tau: float
    sigma: float
    sizes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", np.bincount(self.groups))

    @property
    def n_groups(self) -> int:
        return int(self.sizes.size)

    @property
    def nobs(self) -> int:
        return int(self.groups.size)

    def column(self, name: str) -> int:
        """Index of the fixed effect ``name``; a clear error for a name not in the model."""
        if name not in self.names:
            raise ValueError(f"{name!r} is not a fixed effect of the model; "
                             f"choose one of {name_list(self.names)}")
        return self.names.index(name)

    def size(self, along: str) -> int:
        """The design's value of the setting ``along`` (the largest group for ``n_per_group``)."""
        return self.n_groups if along == "n_groups" else int(self.sizes.max())

    def resized(self, along: str, k: int) -> "PowerDesign":
        """The design with ``k`` groups or ``k`` rows per group, as simr's ``extend``.

        ``n_groups``: the first ``k`` groups, or copies of the groups in turn
        when ``k`` is larger (``extend(fit, along = "g", n = k)``).
        ``n_per_group``: every group's first ``k`` rows, its rows repeated in
        turn when it has fewer (``extend(fit, within = "g", n = k)``).
        """
        if along == "n_groups":
            copies = -(-k // self.n_groups)
            groups = (self.groups[None, :] + self.n_groups * np.arange(copies)[:, None]).ravel()
            keep = groups < k
            return replace(self, X=np.tile(self.X, (copies, 1))[keep], groups=groups[keep])
        start = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        rows = (start[:, None] + np.arange(k)[None, :] % self.sizes[:, None]).ravel()
        return replace(self, X=self.X[rows], groups=self.groups[rows])

    def with_truth(self, effects: Mapping[str, float] | None = None, tau: float | None = None,
                   sigma: float | None = None) -> "PowerDesign":
        """The design with some true values changed (simr's ``fixef(fit)["x"] <- b``)."""
        beta = self.beta.copy()
        for name, value in _checked_effects(effects, self.names).items():
            beta[self.names.index(name)] = value
        return replace(self, beta=beta,
                       tau=self.tau if tau is None else _sd("tau", tau),
                       sigma=self.sigma if sigma is None else _sd("sigma", sigma, positive=True))


def _sd(name: str, value: object, positive: bool = False) -> float:
    number = real_number(name, value)
    if not np.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite standard deviation {bound}, got {value!r}")
    return number


def _checked_effects(effects: Mapping[str, float] | None, names: Sequence[str]) -> dict:
    if effects is None:
        return {}
    if not isinstance(effects, Mapping):
        raise TypeError("effects must be a dict of fixed-effect name to true value, "
                        f"e.g. {{'z': 0.8}}; got {type(effects).__name__}")
    unknown = [name for name in effects if name not in names]
    if unknown:
        raise ValueError(f"effect {name_list(unknown)} is not a fixed effect of the model; "
                         f"its fixed effects are {name_list(names)}")
    return {name: real_number(f"effects[{name!r}]", value) for name, value in effects.items()}


def _group_sizes(n_groups: object, n_per_group: object) -> np.ndarray:
    n_groups = check_int("n_groups", n_groups, 2)
    if is_int(n_per_group) and not isinstance(n_per_group, bool):
        return np.full(n_groups, check_int("n_per_group", n_per_group, 1))
    if isinstance(n_per_group, (str, bytes, Mapping)) or not isinstance(n_per_group, (Sequence, np.ndarray)):
        raise TypeError("n_per_group must be an int or a list of group sizes, "
                        f"got {n_per_group!r}")
    sizes = [check_int("n_per_group[i]", size, 1) for size in n_per_group]
    if not sizes:
        raise ValueError("n_per_group must not be an empty list")
    # A list shorter or longer than n_groups is cycled, so a curve along n_groups can use it.
    return np.resize(np.array(sizes, dtype=np.intp), n_groups)


def design_from_settings(n_groups: int, n_per_group: int | Sequence[int], tau: float,
                         sigma: float, effects: Mapping[str, float]) -> PowerDesign:
    """A design from settings: ``y ~ [x] + [z] + (1 | group)``.

    Parameters
    ----------
    n_groups : int
        Number of groups, at least 2.
    n_per_group : int or list of int
        Rows per group, or one size per group (cycled to ``n_groups``).
    tau, sigma : float
        True sds of the group effects (>= 0) and residuals (> 0).
    effects : dict
        True fixed effects by name: ``"x"`` (within-group covariate), ``"z"``
        (cluster-level two-arm treatment), optionally ``"(Intercept)"``
        (default 0). The model has the columns named here.
    """
    if not isinstance(effects, Mapping) or not set(effects) & {"x", "z"}:
        raise ValueError("effects must give the true effect of 'x' (within-group covariate) "
                         "and/or 'z' (cluster-level treatment), e.g. {'z': 0.8}")
    names = tuple(name for name in SETTINGS_EFFECTS if name == "(Intercept)" or name in effects)
    sizes = _group_sizes(n_groups, n_per_group)
    groups = np.repeat(np.arange(sizes.size), sizes)
    columns = {"(Intercept)": np.ones(groups.size)}
    if "x" in names:
        start = np.repeat(np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
        columns["x"] = np.arange(groups.size) - start - np.repeat((sizes - 1) / 2, sizes)
    if "z" in names:
        columns["z"] = (groups % 2).astype(float)
    X = np.column_stack([columns[name] for name in names])
    design = PowerDesign(X, names, groups, np.zeros(len(names)), 0.0, 1.0)
    return design.with_truth(effects, tau, sigma)


def design_from_fit(fit, *, n_groups: int | None = None,
                    n_per_group: int | None = None) -> PowerDesign:
    """The design of a fitted ``(1 | g)`` model, extended as simr's ``extend``.

    The truth is the fit's ``fixef``, ``tau`` and ``sigma``. ``n_per_group``
    gives every group that many rows, its own rows repeated in turn
    (``extend(fit, within = "g", n = ...)``); ``n_groups`` adds copies of the
    groups in turn (``extend(fit, along = "g", n = ...)``), or keeps the first
    ones when smaller.
    """
    from simlab.model.result import require_lmer

    require_lmer(fit, "power")
    if tuple(fit.random_terms) != ("(Intercept)",):
        raise ValueError("power analysis simulates random-intercept models (1 | group); this "
                         f"model has random effects {name_list(fit.random_terms)}")
    X = fit.model_matrix()
    codes = fit.group_factor().cat.codes.to_numpy()
    order = np.argsort(codes, kind="stable")
    design = PowerDesign(X.to_numpy(dtype=float)[order], tuple(X.columns), codes[order],
                         fit.fixef["estimate"].to_numpy(dtype=float), fit.tau, fit.sigma)
    if n_per_group is not None:
        design = design.resized("n_per_group", check_int("n_per_group", n_per_group, 1))
    if n_groups is not None:
        design = design.resized("n_groups", check_int("n_groups", n_groups, 2))
    return design
