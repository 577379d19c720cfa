"""How results show themselves in Jupyter: their text summary, as HTML."""
from __future__ import annotations

import html

__all__ = ["SummaryHTML"]


class SummaryHTML:
    """Mixin: ``_repr_html_`` is ``str(self)`` (the summary) in a ``<pre>`` block, escaped."""

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"
