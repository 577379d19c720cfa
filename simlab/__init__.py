"""simlab: learn and study linear mixed models.

Exact lme4-parity random-intercept fits (:func:`lmer`), OLS tables
(:func:`lm`), simulation (:func:`simulate`), parameter sweeps
(:func:`sweep`, :func:`summarize`, :func:`plot_sweep`) and the bundled data sets
(:mod:`simlab.datasets`).
"""
from . import datasets
from .model import LmerResult, SingularFitWarning, lmer
from .model.ols import LmResult, lm
from .plots import plot_sweep
from .simulate import simulate
from .study import summarize, sweep

__version__ = "0.1.0"
__all__ = ["lmer", "LmerResult", "SingularFitWarning", "lm", "LmResult", "simulate", "sweep",
           "summarize", "plot_sweep", "datasets",
           "__version__"]
