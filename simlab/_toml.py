"""Reading the TOML configs of the command line (``simlab sweep``, ``simlab power``)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["read_toml"]


def read_toml(path: Path) -> dict:
    """The TOML file at ``path``; a ValueError naming the file and where it is wrong."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise ValueError(f"config file {str(path)!r} is not UTF-8 text: byte "
                         f"0x{raw[err.start]:02x} at line {line}, column {column} (byte offset "
                         f"{err.start}): {err.reason}; save the file as UTF-8.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {str(path)!r} is not valid TOML: {err}; fix that "
                         "line.") from None
