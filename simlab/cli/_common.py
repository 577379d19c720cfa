"""What every subcommand shares: the registry, the library's defaults, tables on the terminal."""
from __future__ import annotations

import argparse
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PROG", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED", "Runner",
           "Command", "COMMANDS", "command", "LibraryDefault", "resolve_defaults", "section",
           "table"]

PROG = "simlab"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

Runner = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """A registered subcommand: its name, one-line help and parser builder."""

    name: str
    help: str
    build: Callable[[argparse.ArgumentParser], Runner]


#: Subcommands in the order ``simlab --help`` lists them.
COMMANDS: dict[str, Command] = {}


def command(name: str, help: str) -> Callable:
    """Register ``build(parser) -> runner`` as the subcommand ``name``."""
    def register(build: Callable[[argparse.ArgumentParser], Runner]):
        COMMANDS[name] = Command(name, help, build)
        return build
    return register


class LibraryDefault:
    """The default of a library parameter, used as an argparse default.

    The command line keeps no copy of a default: ``LibraryDefault(
    "simlab.grading.sandbox:Limits", "timeout")`` reads it from the
    signature, and only when it is needed (``--help`` of that subcommand
    shows it; :func:`resolve_defaults` replaces it after parsing), so that
    building the parser imports nothing heavy.

    Parameters
    ----------
    target : str
        ``"module:qualified.name"`` of a function, method or class.
    parameter : str
        The parameter whose default this is.
    """

    def __init__(self, target: str, parameter: str) -> None:
        self.target, self.parameter = target, parameter

    def value(self):
        """The default as the library's signature states it."""
        module, _, qualname = self.target.partition(":")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        default = inspect.signature(obj).parameters[self.parameter].default
        if default is inspect.Parameter.empty:
            raise TypeError(f"{self.target} has no default for {self.parameter!r}")
        return default

    def __str__(self) -> str:  # what %(default)s shows in --help
        return str(self.value())

    def __repr__(self) -> str:
        return f"LibraryDefault({self.target!r}, {self.parameter!r})"


def resolve_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Replace every :class:`LibraryDefault` the user did not override by its value."""
    for name, value in vars(args).items():
        if isinstance(value, LibraryDefault):
            setattr(args, name, value.value())
    return args


def section(title: str, body: str) -> None:
    """Print a titled, underlined block."""
    print(f"\n{title}\n{'-' * len(title)}\n{body}")


def table(frame, index: bool = True) -> str:
    """A data frame as terminal text: NA for missing values, six significant digits."""
    return frame.to_string(index=index, na_rep="NA", float_format=lambda v: f"{v:.6g}")
