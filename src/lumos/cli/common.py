"""What the commands share: the console, common arguments, parsers of sizes and lists."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer
from rich.console import Console

out = Console(soft_wrap=True)  # long paths stay on one line, as scripts expect
ModelArgument = Annotated[
    str, typer.Argument(help="Saved model name, bundle folder or .lumos file.")
]
TrustCode = Annotated[bool, typer.Option(help="Allow a model whose network is Python code.")]


def parse_shape(text: str) -> tuple[int, int, int]:
    """'3x32x32' (channels x height x width) -> (3, 32, 32)."""
    match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*x\s*(\d+)\s*", text)
    if not match:
        raise typer.BadParameter("use CHANNELSxHEIGHTxWIDTH, e.g. 3x32x32", param_hint="--input")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'64' or 'WIDTHxHEIGHT' -> (height, width)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not match:
        raise typer.BadParameter("use N or WIDTHxHEIGHT, e.g. 28 or 64x48", param_hint="--size")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    return height, width


def numbers(values: list[float], digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


def numbers_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of numbers", param_hint=what
        ) from None
    if not values or min(values) < 1:
        raise typer.BadParameter("give numbers of at least 1", param_hint=what)
    return values


def fail(message: str, code: int = 2) -> None:
    # Plain print, not rich: one line, never wrapped to the terminal width.
    print(f"lumos: {message}", file=sys.stderr)
    sys.exit(code)
