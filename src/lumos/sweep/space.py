"""The values a sweep tries: ``--param NAME=SPEC`` for any recipe field.

``lr=log:1e-4:1e-1`` a float drawn on a log scale, ``momentum=0.8:0.99`` a float,
``epochs=int:5:20`` an integer, ``batch_size=32,64`` and ``optimizer=sgd,adamw`` one of
listed values (read as YAML scalars). Every value is checked against the recipe before a
study exists, so a bad range fails at once, in one line, naming the parameter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import optuna
import yaml

from lumos.errors import LumosError
from lumos.recipe import Recipe, RecipeError

Kind = Literal["float", "log", "int", "choice"]
RANGE = re.compile(r"(?:(log|int):)?([^:,]+):([^:,]+)")


class SweepError(LumosError):
    """A sweep that cannot be made or run: the message says why."""


@dataclass(frozen=True)
class Param:
    """One recipe field a sweep varies, and how."""

    name: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    @property
    def text(self) -> str:
        """As written on the command line."""
        if self.kind == "choice":
            return f"{self.name}={','.join(map(str, self.choices))}"
        prefix = "" if self.kind == "float" else f"{self.kind}:"
        return f"{self.name}={prefix}{self.low:g}:{self.high:g}"

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log")


def parse_param(text: str, base: Recipe) -> Param:
    """``NAME=SPEC`` as a :class:`Param` whose every value ``base`` accepts."""
    name, equals, spec = text.partition("=")
    name = name.strip()
    if not equals or not name or not spec:
        raise SweepError(
            f"--param {text!r}: write NAME=SPEC, e.g. lr=log:1e-4:1e-1 or batch_size=32,64"
        )
    if name not in Recipe.model_fields or name == "dataset":
        raise SweepError(f"--param {text!r}: {name!r} is not a recipe field a sweep can vary")
    matched = RANGE.fullmatch(spec.strip())
    param = _range(text, name, matched) if matched else _choices(text, name, spec)
    for value in param.choices or (param.low, param.high):
        _check(base, name, int(value) if param.kind == "int" else value, text)
    return param


def grid(params: list[Param]) -> dict[str, list[Any]]:
    """The grid of listed values; a range cannot be a grid."""
    ranges = [p.name for p in params if p.kind != "choice"]
    if ranges:
        raise SweepError(f"--sampler grid needs listed values (e.g. lr=0.01,0.1), not ranges: "
                         f"{', '.join(ranges)}")  # fmt: skip
    return {p.name: list(p.choices) for p in params}


def _range(text: str, name: str, matched: re.Match[str]) -> Param:
    kind, low_text, high_text = matched.groups()
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise SweepError(f"--param {text!r}: the range's ends must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise SweepError(f"--param {text!r}: the range must go from a lower to a higher number")
    if kind == "log" and low <= 0:
        raise SweepError(f"--param {text!r}: a log range must start above 0")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise SweepError(f"--param {text!r}: an int range's ends must be whole numbers")
    return Param(name, kind or "float", low, high)


def _choices(text: str, name: str, spec: str) -> Param:
    try:
        values = tuple(yaml.safe_load(v.strip()) for v in spec.split(","))
    except yaml.YAMLError:
        raise SweepError(f"--param {text!r}: cannot read the values") from None
    if len(values) < 2 or len(set(map(repr, values))) != len(values):
        raise SweepError(f"--param {text!r}: list two or more different values, or a range")
    return Param(name, "choice", choices=values)


def _check(base: Recipe, name: str, value: Any, text: str) -> None:
    try:
        Recipe.parse(base.model_dump() | {name: value})
    except RecipeError as e:
        raise SweepError(f"--param {text!r}: {value!r} is no good: {e}") from None
