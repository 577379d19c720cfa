"""Progress bars of long runs (sweeps, power analyses): tqdm, or nothing."""
from __future__ import annotations

import importlib.util
import warnings

__all__ = ["progress_bar"]


def progress_bar(total: int, *, desc: str, unit: str, show: bool):
    """A context-managed bar with ``update(n)``: tqdm's when ``show``, else one that does nothing."""
    return _progress_bar_class()(total=total, unit=unit, desc=desc) if show else _NoBar()


def _progress_bar_class() -> type:
    """tqdm's bar class, imported only when a sweep shows progress.

    In Jupyter, ``tqdm.auto`` gives the notebook widget, which needs
    ipywidgets; without it, tqdm would warn ("IProgress not found") and fall
    back to its console bar. Here the console bar is chosen without the
    warning.

    Returns
    -------
    type
        ``tqdm.std.tqdm`` when ipywidgets is not installed, else ``tqdm.auto.tqdm``.
    """
    if importlib.util.find_spec("ipywidgets") is None:
        from tqdm.std import tqdm
        return tqdm
    from tqdm.std import TqdmWarning
    with warnings.catch_warnings():
        # An ipywidgets that fails to import also leads tqdm to its console bar.
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


class _NoBar:
    """Stands in for a progress bar when none is shown."""

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def update(self, n: int) -> None:
        """Ignore ``n`` finished replicates."""
