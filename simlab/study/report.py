"""``write_report``: PNG plots and a Markdown summary of a sweep store."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from simlab._vocabulary import DEFAULT_LEVEL, LEVEL, NSIM

from .store import MANIFEST, directory_path, read_store
from .summarize import summarize

__all__ = ["DEFAULT_MEASURES", "write_report"]

DEFAULT_MEASURES = ("bias", "coverage_wald", "coverage_profile", "rmse", "power_wald")


def _grid_columns(summary: pd.DataFrame) -> list[str]:
    return list(summary.columns[: list(summary.columns).index("cell")])


def _layout(summary: pd.DataFrame) -> tuple[str, str | None]:
    """x = the first varying grid column (else ``cell``); hue = the next one, if any."""
    varying = [c for c in _grid_columns(summary) if summary[c].nunique(dropna=False) > 1]
    return (varying[0] if varying else "cell"), (varying[1] if len(varying) > 1 else None)


def _fmt(value: float, mcse: float) -> str:
    if not np.isfinite(value):
        return "NA"
    return f"{value:.3g} ± {mcse:.2g}" if np.isfinite(mcse) else f"{value:.3g}"


def _plot(summary: pd.DataFrame, measure: str, out: Path, level: float) -> Path:
    """One panel per parameter; drawn on a pyplot-free Figure (no GUI backend needed)."""
    from matplotlib.figure import Figure

    from simlab.plots import sweep_figure

    x, hue = _layout(summary)
    n = summary["parameter"].nunique()
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(4.5 * ncols, 3.5 * nrows), layout="constrained")
    sweep_figure(summary, measure, x=x, hue=hue, col="parameter", col_wrap=ncols, level=level,
                 fig=fig)
    path = out / f"{measure}.png"
    fig.savefig(path, dpi=100)
    return path


def _table(summary: pd.DataFrame, measures: Sequence[str]) -> list[str]:
    keys = [*_grid_columns(summary), "cell", "parameter", NSIM]
    lines = ["| " + " | ".join([*keys, *measures]) + " |", "|" + "---|" * (len(keys) + len(measures))]
    for _, row in summary.iterrows():
        cells = [str(row[k]) for k in keys]
        cells += [_fmt(float(row[m]), float(row[f"{m}_mcse"])) for m in measures]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def _fits_line(summary: pd.DataFrame) -> str:
    per_cell = summary.groupby("cell")[[NSIM, "n_failed", "n_singular"]].max()
    total = int(per_cell[NSIM].sum() + per_cell["n_failed"].sum())
    failed, singular = int(per_cell["n_failed"].sum()), int(per_cell["n_singular"].sum())
    share = lambda k, n: f"{k} of {n} ({100 * k / n:.1f}%)" if n else f"{k} of {n}"  # noqa: E731
    return (f"Failed fits (excluded from the measures): {share(failed, total)}; singular fits "
            f"(kept): {share(singular, total - failed)}.")


def write_report(store: str | os.PathLike, out: str | os.PathLike | None = None, *,
                 measures: Sequence[str] = DEFAULT_MEASURES) -> Path:
    """Write plots and a Markdown summary of the sweep stored in ``store``.

    Writes into ``out`` (default ``<store>/report/``) one ``<measure>.png``
    per measure of ``measures`` present in the summary (measures of interval
    methods that were not run are skipped), with one panel per parameter,
    x = the first grid column that varies (``cell`` if none does) and one
    line per level of the next varying grid column; and ``summary.md`` with
    the sweep's settings, a table of the measures (value ± MCSE) per cell x
    parameter and a line on failed and singular fits. Returns ``out``.

    Raises
    ------
    FileNotFoundError
        If ``store`` is not a directory.
    ValueError
        If ``store`` or ``out`` is an empty path, or ``store`` is not a sweep
        store or holds no results.
    """
    store = directory_path(store)
    out = store / "report" if out is None else directory_path(out, "report folder")
    if not store.is_dir():
        raise FileNotFoundError(f"sweep store {str(store)!r} does not exist or is not a directory")
    results = read_store(store)
    if results.empty:
        raise ValueError(f"the sweep store {str(store)!r} holds no results yet")
    manifest = json.loads((store / MANIFEST).read_text())
    summary = summarize(results)
    present = [m for m in measures if m in summary.columns and f"{m}_mcse" in summary.columns
               and summary[m].notna().any()]
    out.mkdir(parents=True, exist_ok=True)
    level = float(manifest.get(LEVEL, DEFAULT_LEVEL))
    for m in present:
        _plot(summary[summary[m].notna()], m, out, level)
    skipped = [m for m in measures if m not in present]
    nsim = int(results["rep"].max()) + 1
    lines = ["# Sweep report", "", f"- store: `{store}`",
             f"- grid: `{json.dumps(manifest.get('grid'))}`",
             f"- seed: {manifest.get('seed')}; nsim per cell: {nsim}; "
             f"ci: {manifest.get('ci')}; level: {level}",
             f"- {_fits_line(summary)}", ""]
    if skipped:
        lines += [f"Measures not available (not computed or all NA): {skipped}", ""]
    lines += ["Values are estimate ± Monte Carlo SE.", "", *_table(summary, present), ""]
    lines += [f"![{m}]({m}.png)" for m in present] + [""]
    (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    return out
