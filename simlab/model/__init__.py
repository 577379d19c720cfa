"""Linear mixed models: formula, design, exact engine, results and intervals."""
from .lmer import SingularFitWarning, lmer
from .result import LmerResult

__all__ = ["lmer", "LmerResult", "SingularFitWarning"]
