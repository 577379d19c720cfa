"""A formula never runs code (issue 10, item 1).

formulaic evaluates every term that is not a plain column name as Python.
Each attack below would create a canary file if any of its code ran; before
the allow-list of :func:`simlab.model.formula.check_terms`, several did
(through ``np.__builtins__``, builtins such as ``open``, ``np.savetxt``,
attribute chains on a column, and even formulaic's own variable scan).
"""
from __future__ import annotations

import dataclasses
import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from formulaic import Formula, ModelSpec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simlab
from simlab.cli import main
from simlab.model.formula import FormulaError, check_terms, parse_formula

#: Code that would create (or read) a file; ``{c}`` is the canary's path.
PAYLOADS = (
    "__import__('os').system('touch {c}')",
    "np.__builtins__['__import__']('os').system('touch {c}')",
    "np.__builtins__['open']('{c}', 'w')",
    "np.__builtins__['eval'](\"open('{c}', 'w')\")",
    "open('{c}', 'w')",
    "eval(\"open('{c}', 'w')\")",
    "exec(\"open('{c}', 'w')\")",
    "getattr(np, '__builtins__')['open']('{c}', 'w')",
    "[k for k in ().__class__.__bases__[0].__subclasses__() if k.__name__ == 'catch_warnings']"
    "[0]()._module.__builtins__['open']('{c}', 'w')",
    "(lambda: open('{c}', 'w'))()",
    "np.save('{c}', x)",
    "np.savetxt('{c}', x)",
    "np.lib.npyio.os.system('touch {c}')",
    "np.loadtxt('/etc/passwd')",
    "np.fromfile('{c}')",
    "x.__class__.__init__.__globals__['__builtins__']['open']('{c}', 'w')",
    "np.testing.os.system('touch {c}')",
    "__builtins__['open']('{c}', 'w')",
    "{{k: open('{c}', 'w') for k in [1]}}",
    "(z := open('{c}', 'w'))",
    "np.__dict__['save']('{c}', x)",
    "np.vectorize(open)('{c}', 'w')",
    "x if open('{c}', 'w') else x",
    "x or open('{c}', 'w')",
    "np.log(x, out=open('{c}', 'w'))",
    "np.log(*[open('{c}', 'w')])",
    "np.log(**{{'x': open('{c}', 'w')}})",
    "globals()['__builtins__']['open']('{c}', 'w')",
    "__FORMULAIC_CONTEXT__['np'].os.system('touch {c}')",
    "__import__('subprocess').call(['touch', '{c}'])",
    "x[open('{c}', 'w')]",
    "np.log(x).__class__.__mro__[-1].__subclasses__()",
)
#: Places a payload can hide inside a term.
WRAPPERS = ("I({p})", "I(x * 0 + {p})", "{{{p}}}", "np.log(1 + 0 * ({p}))", "center({p})",
            "I(x + ({p}) * 0)", "{p}", "x:I({p})", "log(abs({p}))", "C(x, levels={p})",
            "poly(x, degree={p})", "C({p})")


def _hostile_terms(canary) -> list[str]:
    return [wrapper.format(p=payload.format(c=canary))
            for payload, wrapper in itertools.product(PAYLOADS, WRAPPERS)]


def _clear(err: BaseException) -> bool:
    text = str(err)
    return isinstance(err, (ValueError, TypeError)) and any(hint in text for hint in (
        "is not allowed", "could not read the formula", "single column name", "not found in",
        "must look like", "unmatched", "exactly one '~'"))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simlab.simulate(10, 4, 1, 1, seed=1)


@pytest.fixture(scope="module")
def csv(data, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("fit") / "d.csv"
    data.to_csv(path, index=False)
    return str(path)


def _fits(term: str, data: pd.DataFrame):
    """Every entry point a formula reaches, as (name, call)."""
    return (("lmer", lambda: simlab.lmer(f"y ~ x + {term} + (1 | group)", data)),
            ("lm", lambda: simlab.lm(f"y ~ x + {term}", data)),
            ("statsmodels random part",
             lambda: simlab.lmer(f"y ~ x + ({term} | group)", data, engine="statsmodels")))


def test_at_least_200_hostile_terms(tmp_path):
    assert len(set(_hostile_terms(tmp_path / "canary"))) >= 200


def test_no_hostile_term_runs_code_in_lmer_lm_or_the_random_part(data, tmp_path):
    canary = tmp_path / "canary"
    for term in _hostile_terms(canary):
        for name, fit in _fits(term, data):
            with pytest.raises((ValueError, TypeError)) as caught:
                fit()
            assert _clear(caught.value), (name, term, caught.value)
            assert not canary.exists(), (name, term)


def test_no_hostile_formula_runs_code_from_the_cli(csv, tmp_path, capsys):
    canary = tmp_path / "canary"
    for term in _hostile_terms(canary):
        for formula in (f"y ~ x + {term} + (1 | group)", f"y ~ x + ({term} | group)"):
            assert main(["fit", csv, formula, "--ci", "wald"]) == 2, formula
            err = capsys.readouterr().err
            assert err.startswith("simlab: error: ") and "Traceback" not in err, err
            assert not canary.exists(), formula


def _swapped(fit, term: str):
    """``fit`` with its fixed part (text and formulaic spec) replaced by ``x + term``."""
    try:
        spec = ModelSpec(formula=Formula(f"x + {term}"))
    except Exception:  # formulaic cannot even parse it: keep the fitted spec
        spec = fit._spec if isinstance(fit, simlab.LmResult) else fit.design.spec
    if isinstance(fit, simlab.LmResult):
        return dataclasses.replace(fit, _fixed=f"x + {term}", _spec=spec)
    parsed = dataclasses.replace(fit.design.formula, fixed=f"x + {term}")
    return dataclasses.replace(fit, design=dataclasses.replace(fit.design, formula=parsed, spec=spec))


def test_predict_refuses_every_hostile_fixed_part(data, tmp_path):
    """Even a fit whose formula was swapped after fitting runs no code in ``predict``."""
    canary = tmp_path / "canary"
    fits = (simlab.lm("y ~ x", data), simlab.lmer("y ~ x + (1 | group)", data))
    for term, fit in itertools.product(_hostile_terms(canary), fits):
        with pytest.raises(ValueError) as caught:
            _swapped(fit, term).predict(data.head(3))
        assert _clear(caught.value), (term, caught.value)
        assert not canary.exists(), term


@pytest.mark.parametrize("formula", [
    "open('{c}', 'w') ~ x + (1 | group)",
    "y ~ x + (1 | __import__('os').system('touch {c}'))",
    "y ~ x + (1 | np.__builtins__['open']('{c}', 'w'))",
])
def test_response_and_group_are_column_names_only(data, tmp_path, formula):
    canary = tmp_path / "canary"
    with pytest.raises(ValueError, match="single column name"):
        simlab.lmer(formula.format(c=canary), data)
    assert not canary.exists()


_ATOMS = st.sampled_from(["x", "y", "1", "2.5", "np", "__class__", "open", "eval", "'s'",
                          "__builtins__", "os", "np.log", "I", "C", "getattr", "`x`", "[]",
                          "()", "lambda: 0", "0j", "x.T", "__import__"])
_JOINS = st.sampled_from(["+", "*", ".", "[", "]", "(", ")", ", ", "**", ":", "|", " ",
                          "=", "'", "{", "}", "@", ";", "\\", "\n"])


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_ATOMS, _JOINS), min_size=1, max_size=8))
def test_random_term_text_never_escapes_the_allow_list(data, tmp_path, pieces):
    """Arbitrary token soup: it fits, or fails with a ValueError or TypeError; nothing else."""
    term = "".join(atom + join for atom, join in pieces)
    for name, fit in _fits(term, data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a perfect fit of y ~ x + y
            try:
                fit()
            except (ValueError, TypeError) as err:
                assert "Traceback" not in str(err), (name, term)


@pytest.mark.parametrize("term", [
    "x", "I(x + 1)", "I(x**2)", "I(x ** -1)", "np.log(x + 5)", "log(x + 5)", "np.sqrt(np.abs(x))", "sqrt(abs(x))",
    "exp(x / 10)", "C(grp)", "C(grp, levels=['b', 'a'])", "center(x)", "scale(x)", "poly(x, 2)",
    "I(x > 0)", "x:C(grp)", "I(`x` * 2)", "{x * 2}", "I(-x)", "np.log1p(np.abs(x))",
])
def test_allowed_terms_still_fit(data, term):
    frame = data.assign(grp=np.where(data["x"] > 0, "a", "b"))
    fit = simlab.lm(f"y ~ {term}", frame)
    assert np.isfinite(fit.fixef["estimate"]).all()
    np.testing.assert_allclose(fit.predict(frame.head(5)), fit.fitted[:5], rtol=1e-10)


def test_check_terms_is_the_one_gate():
    assert check_terms("x + I(z * z) + C(g) + center(w)") == (("g", "w", "x", "z"),
                                                              frozenset({"x", "z", "w"}), None)
    assert check_terms("x + 1 + `a b`").plain == ("1", "x", "a b")
    assert check_terms("0 + x").plain == ("x",)
    with pytest.raises(FormulaError, match=r"attribute access '.__class__'.*pandas first"):
        check_terms("I(x.__class__)")
    with pytest.raises(FormulaError, match=r"calling 'np.save'"):
        parse_formula("y ~ np.save(x)")


@pytest.mark.parametrize("term", ["I(9 ** 9 ** 9)", "I(x ** x)", "poly(x, 10 ** 6)", "poly(x, 2.5)",
                                  "poly(x, degree=1000)", "poly(x, 'a')"])
def test_terms_that_would_only_burn_time_are_refused(term):
    with pytest.raises(FormulaError, match="is not allowed"):
        check_terms(term)
