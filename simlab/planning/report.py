"""``simlab power``: run a config's power curve (and search) and write the report files.

The folder gets ``power_curve.csv`` (the curve's tidy table),
``power_curve.png`` (the figure, with the target line), ``solve.csv`` (the
sizes probed, when the config has a ``[solve]`` table) and ``report.md``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import PowerConfig, load_power_config
from .curve import PowerCurve, power_curve
from .solve import SampleSize, solve_sample_size

__all__ = ["PowerReport", "run_power", "write_power_report"]


@dataclass(frozen=True)
class PowerReport:
    """What a ``simlab power`` run computed and where it wrote it."""

    curve: PowerCurve
    solved: SampleSize | None
    folder: Path
    files: tuple[Path, ...]


def run_power(config: PowerConfig, *, progress: bool = False) -> tuple[PowerCurve, SampleSize | None]:
    """The config's power curve and, with ``[solve]``, its sample-size search."""
    curve = power_curve(**config.common, **config.curve, progress=progress)
    solved = None
    if config.solve is not None:
        solved = solve_sample_size(**{**config.common, **config.solve})
    return curve, solved


def _figure(curve: PowerCurve, target: float | None, path: Path) -> Path:
    from matplotlib.figure import Figure

    from simlab.plots.power import plot_power_curve

    fig = Figure(figsize=(6, 4), layout="constrained")
    plot_power_curve(curve, target=target, ax=fig.subplots())
    fig.savefig(path, dpi=100)
    return path


def _markdown(curve: PowerCurve, solved: SampleSize | None, config_name: str) -> str:
    first = curve.points[0]
    lines = [f"# Power analysis: {config_name}", "",
             f"Test of `{first.term}` ({first.test}, alpha = {first.alpha:g}); "
             f"effect {first.effect:g}; seed {first.seed}.", "",
             f"| {curve.along} | rows | power | 95% interval | MCSE | simulations | singular |",
             "|---|---|---|---|---|---|---|"]
    for size, p in zip(curve.breaks, curve.points):
        lines.append(f"| {size} | {p.nobs} | {p.power:.3f} | [{p.lower:.3f}, {p.upper:.3f}] "
                     f"| {p.mcse:.3f} | {p.nsim} | {p.singular} |")
    lines += ["", "![power curve](power_curve.png)", ""]
    if solved is not None:
        lines += ["## Sample size", "", "```", str(solved), "```", ""]
    return "\n".join(lines)


def write_power_report(config_path: str | os.PathLike, out: str | os.PathLike | None = None,
                       *, progress: bool = False) -> PowerReport:
    """Run the config at ``config_path`` and write its report into ``out``.

    ``out`` defaults to ``<config name>-power`` in the current folder; it is
    created if needed, and files of a previous run in it are replaced.
    """
    config_path = Path(config_path)
    config = load_power_config(config_path)
    folder = Path(out) if out is not None else Path(f"{config_path.stem}-power")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {str(folder)!r} is a file, not a folder; choose another path")
    curve, solved = run_power(config, progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / "power_curve.csv"]
    curve.table.to_csv(files[0], index=False)
    files.append(_figure(curve, config.target, folder / "power_curve.png"))
    if solved is not None:
        files.append(folder / "solve.csv")
        solved.table.to_csv(files[-1], index=False)
    files.append(folder / "report.md")
    files[-1].write_text(_markdown(curve, solved, config_path.name), encoding="utf-8")
    return PowerReport(curve, solved, folder, tuple(files))
