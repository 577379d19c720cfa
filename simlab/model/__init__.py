"""Linear mixed models (formula, design, engines, results, intervals) and OLS (:func:`lm`)."""
from .compare import anova
from .formula import FormulaError
from .lmer import ConvergenceWarning, PredictorScaleWarning, SingularFitWarning, lmer
from .ols import LmResult, lm
from .result import LmerResult

__all__ = ["lmer", "LmerResult", "SingularFitWarning", "ConvergenceWarning",
           "PredictorScaleWarning", "lm", "LmResult", "FormulaError", "anova"]
