"""Builders of typical wrong answers, shared by the answer keys.

Each returns a ``wrong(ctx)`` function for :class:`simlab.grading.questions.Mistake`;
it runs in the grader's process, never in the student's.
"""
from __future__ import annotations

__all__ = ["squared", "reciprocal", "refit", "sd_ratio_icc", "swapped"]


def squared(name: str):
    """The key's answer to ``name``, squared: a variance given where an sd was asked."""
    return lambda ctx: ctx.expected[name] ** 2


def reciprocal(name: str):
    """One over the key's answer to ``name``: a ratio taken upside down."""
    return lambda ctx: 1 / ctx.expected[name]


def sd_ratio_icc(tau_name: str, sigma_name: str):
    """``tau / (tau + sigma)``: an ICC computed from sds instead of variances."""
    def wrong(ctx):
        tau, sigma = ctx.expected[tau_name], ctx.expected[sigma_name]
        return tau / (tau + sigma)
    return wrong


def refit(load_data, formula: str, extract, *, reml: bool = False):
    """``extract(lmer(formula, load_data(ctx), reml=reml))``: by default from the ML fit."""
    def wrong(ctx):
        from simlab import lmer
        return extract(lmer(formula, load_data(ctx), reml=reml))
    return wrong


def swapped(name: str, first: str, second: str):
    """The key's answer ``name`` with ``first`` and ``second`` swapped: the columns of a
    table, or the labels of a Series."""
    def wrong(ctx):
        table = ctx.expected[name]
        if table.ndim == 1:
            return table.rename(index={first: second, second: first})[list(table.index)]
        return table.rename(columns={first: second, second: first})[list(table.columns)]
    return wrong
