"""argparse types shared by the `mlops-assets` subcommands: a bad value exits with code 2 and a
message naming the value and what is allowed."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

_N = TypeVar("_N", int, float)


def within(convert: Callable[[str], _N], low: _N, high: _N, noun: str) -> Callable[[str], _N]:
    """A number `convert`ed from the text and within [low, high], e.g.
    `within(int, 1, 65535, "a port")`: "expected a port within [1, 65535], got 70000"."""

    def parse(text: str) -> _N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {noun} within [{low}, {high}], got {value}")
        return value

    return parse
