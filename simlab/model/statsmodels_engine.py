"""The ``statsmodels`` engine: fit the model with ``statsmodels`` ``MixedLM``.

It fits what the exact engine fits, plus random slopes such as
``(x | g)``, and reports the same :class:`~simlab.model.estimates.FitEstimates`
so every table is built by the same code as for the exact engine.

The model is passed to ``MixedLM`` as arrays (``design.y``, ``design.X``,
``design.groups``, ``design.Z``), never as a formula, so term names and the
encoding of factors stay simlab's.

Where statsmodels' own output is defined differently from lme4's, this
module computes lme4's quantity from statsmodels' estimates:

* ``vcov`` is ``sigma^2 (X' V^-1 X)^-1`` at the estimated variance
  parameters, as lme4's ``vcov``. ``MixedLMResults.cov_params()`` instead
  inverts the whole observed information, whose fixed-effect block picks up
  cross terms with the variance parameters; on unbalanced data (sim1234)
  its standard errors differ from lme4's by about 7e-4 relative.
* ``singular`` is lme4's ``isSingular``: a diagonal element of the relative
  Cholesky factor ``theta`` (of ``re_cov / sigma^2``) below ``1e-4``, not
  statsmodels' absolute "variance < 0.01" boundary warning, which depends on
  the units of the response.

``-2 * llf`` needs no correction: statsmodels' REML log-likelihood has the
same constants as lme4's, and the criteria agree to 1e-9 relative on the
reference fits.

Optimisation: :data:`METHODS` are tried in turn until one converges, and a
gradient fit is then polished by a Powell restart from its optimum, kept
if it raises the likelihood. The polish is there because statsmodels'
L-BFGS stops at a gradient tolerance of 1e-5 on the per-observation
log-likelihood (``MixedLM.fit`` does not pass a tighter one on), which
leaves the variances about 5e-5 (relative) from the optimum; and because it
optimises the Cholesky factor, whose gradient vanishes at 0, so on a
boundary optimum it can stop at a small but clearly non-zero variance. The
restart costs about as much as the first fit and brings every estimate to
within 1e-6 of the exact engine's on the reference data.
"""
from __future__ import annotations

import warnings

import numpy as np

from .design import Design
from .estimates import SINGULAR_TOL, FitEstimates

__all__ = ["statsmodels_estimates", "SINGULAR_TOL", "METHODS"]

#: Optimisers tried in turn until one converges. Powell needs no gradient,
#: so it still works when the optimum is on the boundary, where statsmodels'
#: gradient methods can fail (a singular X'V^-1X along a line search).
METHODS = ("lbfgs", "bfgs", "powell")


# Optimiser failures statsmodels lets through (a singular X'V^-1X along a
# line search raises LinAlgError); anything else is a bug and propagates.
_FIT_ERRORS = (np.linalg.LinAlgError, FloatingPointError, ValueError, OverflowError)


def statsmodels_estimates(design: Design, reml: bool) -> FitEstimates:
    """Fit ``design`` with statsmodels ``MixedLM`` and report lme4's quantities.

    Parameters
    ----------
    design : Design
        Checked model matrices; ``design.Z`` may have several columns
        (random slopes).
    reml : bool
        REML (True) or maximum likelihood.

    Returns
    -------
    FitEstimates
        With ``engine="statsmodels"``. statsmodels' warnings (convergence,
        boundary, singular covariance) are kept in ``messages`` instead of
        being printed.

    Raises
    ------
    RuntimeError
        If every optimiser in :data:`METHODS` fails.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    model = MixedLM(endog=design.y, exog=design.X, groups=design.groups, exog_re=design.Z)
    fit, messages, iterations = _fit_with_fallback(model, reml)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        modes, mode_sd = _conditional_modes(fit, design.n_groups)
    messages += [text for text in _warning_texts(caught) if text not in messages]
    re_cov = np.atleast_2d(np.asarray(fit.cov_re, dtype=float))
    sigma = float(np.sqrt(fit.scale))
    singular = bool(relative_cholesky_diagonal(re_cov, sigma).min() < SINGULAR_TOL)
    if singular:
        messages.insert(0, "boundary (singular) fit: see help('isSingular')")
    return FitEstimates(
        beta=np.asarray(fit.fe_params, dtype=float), vcov=fixed_vcov(design, re_cov, sigma),
        re_cov=re_cov, sigma=sigma, modes=modes, mode_sd=mode_sd,
        criterion=float(-2.0 * fit.llf), reml=reml, converged=bool(fit.converged),
        singular=singular, engine="statsmodels", messages=tuple(messages),
        iterations=iterations, theta=_lower_by_columns(relative_cholesky(re_cov, sigma)),
    )


def _fit_with_fallback(model, reml: bool):
    """Try each of :data:`METHODS` until one converges, then polish it with Powell.

    Returns the fit kept, its messages (what failed before it, then the
    warnings statsmodels raised while fitting it) and the total number of
    optimiser iterations over all attempts.
    """
    notes: list[str] = []
    tried = []
    for method in METHODS:
        fit, texts = _attempt(model, reml, method)
        if fit is None:
            notes += texts
            continue
        tried.append((method, fit, texts))
        if fit.converged:
            break
        notes.append(f"statsmodels optimizer {method!r} did not converge")
    if not tried:
        raise RuntimeError(f"statsmodels MixedLM failed with every optimizer {METHODS}: "
                           f"{'; '.join(notes)}. The exact engine (engine='exact') fits "
                           "random-intercept models without an iterative optimizer.")
    # Prefer a converged fit; among unconverged ones keep the best likelihood.
    kept = max(tried, key=lambda item: (bool(item[1].converged), item[1].llf))
    iterations = sum(_iterations(fit) for _, fit, _ in tried)
    if kept[0] != "powell":
        # Why polish at all: see the module docstring.
        polished, texts = _attempt(model, reml, "powell", start=kept[1].params_object)
        if polished is not None:
            iterations += _iterations(polished)
            if polished.converged and polished.llf > kept[1].llf:
                kept = ("powell", polished, texts)
    return kept[1], notes + kept[2], iterations


def _attempt(model, reml: bool, method: str, start=None):
    """One ``MixedLM.fit`` with one optimiser: ``(fit, warning texts)`` or ``(None, [why])``."""
    fit = error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = model.fit(reml=reml, method=[method], start_params=start, full_output=True)
        except _FIT_ERRORS as err:
            error = err
    texts = _warning_texts(caught)
    if fit is None:
        return None, [f"statsmodels optimizer {method!r} failed ({type(error).__name__}: {error})"]
    return fit, texts


def _iterations(fit) -> int:
    """Optimiser iterations of a fit (function evaluations where none are reported)."""
    retvals = fit.hist[-1] if fit.hist else {}
    return int(retvals.get("iterations", retvals.get("fcalls", 0)))


def _conditional_modes(fit, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Modes and conditional sds, shape (G, q), in ``design.levels`` order.

    statsmodels keys both dicts by the group label it was given, which here
    is the group's code ``0 .. G-1``. ``random_effects_cov`` is the
    covariance of the random effects given the data at the estimated fixed
    effects, i.e. lme4's ``condVar``.
    """
    effects, covs = fit.random_effects, fit.random_effects_cov
    modes = np.array([np.asarray(effects[code], dtype=float) for code in range(n_groups)])
    variances = np.array([np.diag(np.asarray(covs[code], dtype=float)) for code in range(n_groups)])
    # On the boundary the conditional variance is 0 up to rounding, which can be < 0.
    return modes.reshape(n_groups, -1), np.sqrt(np.clip(variances, 0.0, None)).reshape(n_groups, -1)


def _warning_texts(caught) -> list[str]:
    """Unique texts of statsmodels' and numerical warnings; re-issue any others.

    Optimiser noise (convergence, boundary, overflow along a line search)
    belongs in ``messages``; an unrelated warning (say a pandas deprecation)
    must still reach the user.
    """
    texts: list[str] = []
    for item in caught:
        category = item.category
        if category.__module__.startswith("statsmodels") or issubclass(category, RuntimeWarning):
            text = f"{category.__name__}: {item.message}"
            if text not in texts:
                texts.append(text)
        else:
            warnings.warn_explicit(item.message, category, item.filename, item.lineno)
    return texts


def relative_cholesky(re_cov: np.ndarray, sigma: float) -> np.ndarray:
    """The lower Cholesky factor of ``re_cov / sigma^2`` (lme4's ``Lambda``).

    Computed column by column so that a singular (only semi-definite)
    matrix gives zeros on the diagonal instead of a ``LinAlgError``.
    """
    relative = np.asarray(re_cov, dtype=float) / sigma ** 2
    q = relative.shape[0]
    factor = np.zeros((q, q))
    for j in range(q):
        pivot = relative[j, j] - factor[j, :j] @ factor[j, :j]
        factor[j, j] = np.sqrt(max(pivot, 0.0))
        if factor[j, j] > 0:
            factor[j + 1:, j] = (relative[j + 1:, j] - factor[j + 1:, :j] @ factor[j, :j]) / factor[j, j]
    return factor


def _lower_by_columns(factor: np.ndarray) -> np.ndarray:
    """lme4's ``theta`` order: the lower triangle of ``factor``, column by column."""
    return factor.T[np.triu_indices(len(factor))]


def relative_cholesky_diagonal(re_cov: np.ndarray, sigma: float) -> np.ndarray:
    """Diagonal of :func:`relative_cholesky` (lme4's ``isSingular`` looks at it)."""
    return np.diag(relative_cholesky(re_cov, sigma)).copy()


def fixed_vcov(design: Design, re_cov: np.ndarray, sigma: float) -> np.ndarray:
    """lme4's ``vcov``: ``sigma^2 (X' V^-1 X)^-1`` with ``V = I + Z Psi Z' / sigma^2``.

    Per group, ``V^-1 = I - Z Psi (I + Z'Z Psi)^-1 Z'`` (with ``Psi`` the
    relative covariance), which needs only q x q solves and stays valid
    when ``Psi`` is singular.
    """
    xtx, xtz, ztz = _group_crossproducts(design)
    psi = np.asarray(re_cov, dtype=float) / sigma ** 2
    q = psi.shape[0]
    inner = np.eye(q) + ztz @ psi                                # (G, q, q)
    solved = np.linalg.solve(inner, np.swapaxes(xtz, 1, 2))      # (G, q, p)
    xtvx = (xtx - xtz @ psi @ solved).sum(axis=0)
    return sigma ** 2 * np.linalg.inv(xtvx)


def _group_crossproducts(design: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group ``X'X``, ``X'Z`` and ``Z'Z``, each stacked along a first G axis."""
    order = np.argsort(design.groups, kind="stable")
    starts = np.searchsorted(design.groups[order], np.arange(design.n_groups))
    X, Z = design.X[order], design.Z[order]

    def cross(a, b):
        return np.add.reduceat(a[:, :, None] * b[:, None, :], starts, axis=0)

    return cross(X, X), cross(X, Z), cross(Z, Z)
