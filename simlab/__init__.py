"""simlab: learn and study linear mixed models.

Exact lme4-parity random-intercept fits (:func:`lmer`), OLS tables
(:func:`lm`), simulation (:func:`simulate`), parameter sweeps
(:func:`sweep`, :func:`summarize`, :func:`plot_sweep`, :func:`sweep_figure`), merTools-style
simulation intervals (``fit.re_sim()``, ``fit.predict_interval()``, also as
the functions :func:`re_sim` and :func:`predict_interval`), power analysis
(:func:`power`, :func:`power_curve`, :func:`solve_sample_size`), teaching
figures (:mod:`simlab.plots`), the bundled data sets (:mod:`simlab.datasets`)
and autograded exercises (:mod:`simlab.grading`).
"""
from __future__ import annotations

import importlib

# `simlab.simulate` names both a module and the function in it; importing the function
# binds the name once and for all (numpy only: cheap).
from .simulate import simulate

#: The version when simlab is not installed (run from a source tree).
_UNINSTALLED_VERSION = "0+unknown"

#: Public name -> the module that defines it. Loaded on first use (PEP 562), so that
#: ``import simlab`` (paid by every command and every grading child) loads neither pandas
#: nor formulaic nor matplotlib until a name that needs them is used.
_LAZY = {
    "lmer": "simlab.model", "LmerResult": "simlab.model",
    "SingularFitWarning": "simlab.model", "lm": "simlab.model.ols",
    "LmResult": "simlab.model.ols", "anova": "simlab.model",
    "ConvergenceWarning": "simlab.model",
    "sweep": "simlab.study", "summarize": "simlab.study", "plot_sweep": "simlab.plots",
    "sweep_figure": "simlab.plots",
    "re_sim": "simlab.model.posterior", "predict_interval": "simlab.model.posterior",
    "power": "simlab.planning", "power_curve": "simlab.planning",
    "solve_sample_size": "simlab.planning", "PrecisionWarning": "simlab.planning",
}
_SUBMODULES = ("datasets", "model", "study", "planning", "plots", "grading")

__all__ = ["lmer", "LmerResult", "SingularFitWarning", "ConvergenceWarning", "lm", "LmResult",
           "anova", "simulate", "sweep",
           "summarize", "plot_sweep", "sweep_figure", "re_sim", "predict_interval", "power", "power_curve",
           "solve_sample_size", "PrecisionWarning", "datasets",
           "__version__"]


def __getattr__(name: str):
    """Load a public name (or submodule) the first time it is used (PEP 562)."""
    if name == "__version__":
        value = _installed_version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"simlab.{name}")
    else:
        raise AttributeError(f"module 'simlab' has no attribute {name!r}")
    globals()[name] = value
    return value


def _installed_version() -> str:
    """The version in the installed metadata (pyproject's), so there is one place to bump it.

    Looked up on first use: importlib.metadata costs milliseconds that ``import simlab``
    (paid by every command and grading child) should not.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("simlab")
    except PackageNotFoundError:
        return _UNINSTALLED_VERSION


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
