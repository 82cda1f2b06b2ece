"""What the commands share: the console, common arguments, parsers of sizes and lists."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer
from rich.console import Console

from lumos.choices import VocCorners

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip
out = Console(soft_wrap=True)  # long paths stay on one line, as scripts expect
ModelArgument = Annotated[
    str, typer.Argument(help="Saved model name, bundle folder or .lumos file.")
]
TrustCode = Annotated[bool, typer.Option(help="Allow a model whose network is Python code.")]
# How a server batches: options `export --triton` and `serve` share
MaxBatch = Annotated[int, typer.Option(help="Most images run together.", min=1)]
MaxDelay = Annotated[float, typer.Option(help="Longest wait for a batch to fill.", min=0.0)]
VocCornersOption = Annotated[
    VocCorners,
    typer.Option(
        "--voc-corners",
        help="Pascal VOC boxes: 'pixels' (1-based, the VOC devkit and Detectron2) or "
        "'edges' (0-based, datumaro and CVAT).",
    ),
]


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


def floats_list(text: str, what: str) -> list[float]:
    """'0.5,0.5,0.5' -> [0.5, 0.5, 0.5]."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of numbers", param_hint=what
        ) from None


def fail(message: str, code: int = 2) -> None:
    # Plain print, not rich: one line, never wrapped to the terminal width.
    print(f"lumos: {message}", file=sys.stderr)
    sys.exit(code)


def parse_batches(text: str) -> list[int]:
    """'1,32,128' -> [1, 32, 128]."""
    sizes = [int(p) for p in text.split(",")] if re.fullmatch(r"\d+(,\d+)*", text) else [0]
    if 0 in sizes:
        raise typer.BadParameter("use sizes of 1 or more, e.g. 1,32,128", param_hint="--batch")
    return sizes


def parse_bytes(text: str) -> int:
    """'16GB', '512 MiB' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in UNITS:
        raise typer.BadParameter("use an amount such as 16GB or 512MiB", param_hint="--memory")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])
