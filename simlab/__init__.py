"""simlab: learn and study linear mixed models.

Exact lme4-parity random-intercept fits (:func:`lmer`), OLS tables
(:func:`lm`), simulation (:func:`simulate`) and the bundled data sets
(:mod:`simlab.datasets`).
"""
from . import datasets
from .model import LmerResult, SingularFitWarning, lmer
from .model.ols import LmResult, lm
from .simulate import simulate

__version__ = "0.1.0"
__all__ = ["lmer", "LmerResult", "SingularFitWarning", "lm", "LmResult", "simulate", "datasets",
           "__version__"]
