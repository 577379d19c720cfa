"""Power analysis and sample-size planning (simr's powerSim, powerCurve and extend;
SimDesign's SimSolve), on the exact batch engine.

- :func:`power`: the power of a test of one fixed effect, with Monte Carlo SE,
  Clopper-Pearson interval and optional adaptive precision;
- :func:`power_curve`: power along the number of groups or rows per group;
- :func:`solve_sample_size`: the smallest such size whose power reaches a target;
- :func:`write_power_report`: ``simlab power CONFIG.toml``.

The package is ``simlab.planning`` rather than ``simlab.power``: ``simlab.power``
is the function users call.
"""
from .curve import PowerCurve, default_breaks, power_curve
from .design import ALONG, PowerDesign, design_from_fit, design_from_settings
from .power import PowerResult, PrecisionWarning, power
from .report import PowerReport, write_power_report
from .solve import Probe, SampleSize, solve_sample_size
from .testing import TESTS

__all__ = ["ALONG", "TESTS", "PowerCurve", "PowerDesign", "PowerReport", "PowerResult",
           "PrecisionWarning", "Probe", "SampleSize", "default_breaks", "design_from_fit",
           "design_from_settings", "power", "power_curve", "solve_sample_size",
           "write_power_report"]
