"""simlab: learn and study linear mixed models.

Exact lme4-parity random-intercept fits (:func:`lmer`), OLS tables
(:func:`lm`), simulation (:func:`simulate`), parameter sweeps
(:func:`sweep`, :func:`summarize`, :func:`plot_sweep`), merTools-style
simulation intervals (:func:`re_sim`, :func:`predict_interval`), teaching
figures (:mod:`simlab.plots`), the bundled data sets (:mod:`simlab.datasets`)
and autograded exercises (:mod:`simlab.grading`).
"""
from . import datasets
from .model import LmerResult, SingularFitWarning, lmer
from .model.ols import LmResult, lm
from .model.posterior import predict_interval, re_sim
from .plots import plot_sweep
from .simulate import simulate
from .study import summarize, sweep

__version__ = "0.1.0"
__all__ = ["lmer", "LmerResult", "SingularFitWarning", "lm", "LmResult", "simulate", "sweep",
           "summarize", "plot_sweep", "re_sim", "predict_interval", "datasets",
           "__version__"]
