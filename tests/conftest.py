"""Shared fixtures: data sets, lme4 references and fitted models (session-scoped)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import simlab
from simlab import datasets

REFERENCE = Path(__file__).parent / "reference"

#: Each lme4 reference: (json name, formula, data loader name).
REFERENCE_MODELS = {
    "gpa_occasion": ("gpa ~ occasion + (1 | student)", "gpa"),
    "gpa_sex": ("gpa ~ occasion + sex + (1 | student)", "gpa"),
    "gpa_highgpa": ("gpa ~ occasion + highgpa + (1 | student)", "gpa"),
    "gpa_sex_highgpa": ("gpa ~ occasion + sex + highgpa + (1 | student)", "gpa"),
    "sleepstudy": ("Reaction ~ Days + (1 | Subject)", "sleepstudy"),
    "sim1234": ("y ~ x + (1 | groups)", "sim1234"),
}


def load_reference(name: str) -> dict:
    with open(REFERENCE / "lme4" / f"{name}.json") as handle:
        return json.load(handle)


def _gpa_or_skip() -> pd.DataFrame:
    try:
        return datasets.gpa()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("gpa.csv not available: set SIMLAB_DATA_DIR to the folder holding it")


@pytest.fixture(scope="session")
def gpa_data() -> pd.DataFrame:
    return _gpa_or_skip()


@pytest.fixture(scope="session")
def sleepstudy_data() -> pd.DataFrame:
    return datasets.sleepstudy()


@pytest.fixture(scope="session")
def sim1234_data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "sim1234.csv")


def _data(kind: str, request) -> pd.DataFrame:
    return request.getfixturevalue(f"{kind}_data")


@pytest.fixture(scope="session", params=sorted(REFERENCE_MODELS))
def reference_case(request):
    """(reference dict, fitted LmerResult, data) for every stored lme4 fit."""
    formula, kind = REFERENCE_MODELS[request.param]
    data = _data(kind, request)
    return load_reference(request.param), simlab.lmer(formula, data), data


#: The random-slope references (issue 11): (json name, formula, data loader name).
SLOPE_REFERENCE_MODELS = {
    "sleepstudy_slopes": ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    "sleepstudy_uncorrelated": ("Reaction ~ Days + (Days || Subject)", "sleepstudy"),
    "gpa_slopes": ("gpa ~ occasion + (1 + occasion | student)", "gpa"),
    "sim_slopes1234": ("y ~ x + (1 | groups) + (0 + x | groups)", "sim_slopes1234"),
}


@pytest.fixture(scope="session")
def sim_slopes1234_data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "sim_slopes1234.csv")


@pytest.fixture(scope="session", params=sorted(SLOPE_REFERENCE_MODELS))
def slope_case(request):
    """(reference dict, REML fit, ML fit, data) for every stored lme4 random-slope fit."""
    formula, kind = SLOPE_REFERENCE_MODELS[request.param]
    data = _data(kind, request)
    return (load_reference(request.param), simlab.lmer(formula, data),
            simlab.lmer(formula, data, reml=False), data)


@pytest.fixture(scope="session")
def gpa_fit(gpa_data):
    return simlab.lmer("gpa ~ occasion + (1 | student)", gpa_data, data_name="gpa")


@pytest.fixture(scope="session")
def sleep_fit(sleepstudy_data):
    return simlab.lmer("Reaction ~ Days + (1 | Subject)", sleepstudy_data, data_name="sleepstudy")


@pytest.fixture(scope="session")
def sim_fit(sim1234_data):
    return simlab.lmer("y ~ x + (1 | groups)", sim1234_data)


@pytest.fixture
def fail_second_chunk(monkeypatch):
    """``install(error)``: the sweep runner raises ``error`` on its second chunk (the first is
    saved); ``install`` returns the list of the chunks run so far."""
    import simlab.study.runner as runner
    original = runner._run

    def install(error: BaseException) -> list:
        calls = []

        def run(chunk):
            calls.append(chunk)
            if len(calls) == 2:
                raise error
            return original(chunk)

        monkeypatch.setattr(runner, "_run", run)
        return calls

    return install
