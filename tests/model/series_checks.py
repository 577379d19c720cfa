"""A check shared by the lm and lmer tests: fitted values, residuals and predictions are
pandas Series indexed like the rows they describe."""
from __future__ import annotations

import numpy as np
import pandas as pd


def check_series_indexed_like_rows(fit, data: pd.DataFrame, dropped, picked) -> pd.DataFrame:
    """Assert ``fit``'s Series keep ``data``'s index (without the row ``dropped`` for a
    missing value) and that predictions for the rows ``picked``, relabelled ``a, b``, are
    indexed ``a, b`` and equal their fitted values. Returns those relabelled rows."""
    used = data.index.drop(dropped)
    for series, name in ((fit.fitted, "fitted"), (fit.residuals, "residual"),
                         (fit.predict(), "prediction")):
        assert isinstance(series, pd.Series) and series.name == name
        assert series.index.equals(used)
    rows = data.loc[picked].set_axis(["a", "b"])
    predicted = fit.predict(rows)
    assert list(predicted.index) == ["a", "b"] and predicted.name == "prediction"
    np.testing.assert_allclose(predicted, fit.fitted.loc[picked], rtol=1e-12)
    return rows
