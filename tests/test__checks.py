"""The shared argument checks of simlab/_checks.py."""
from __future__ import annotations

import numpy as np
import pandas as pd

from simlab._checks import name_list


def test_name_list_caps_long_lists_and_counts_the_rest():
    assert name_list([f"c{i}" for i in range(12)], shown=3) == "['c0', 'c1', 'c2', ...] (9 more)"
    assert name_list(range(20_000)).endswith(", 9, ...] (19,990 more)")


def test_name_list_shows_short_lists_whole():
    assert name_list(["a", "b"]) == "['a', 'b']"
    assert name_list([]) == "[]"


def test_name_list_writes_numpy_labels_as_python_values():
    assert name_list(pd.Index(np.array([3, 4], dtype=np.int64))) == "[3, 4]"
    assert name_list(np.array(["x"]), shown=1) == "['x']"
