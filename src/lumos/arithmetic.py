"""Choosing the device and the arithmetic: CUDA AMP when there is a GPU, bf16 autocast on
CPUs that compute it natively, fp32 otherwise.

On a CPU without native bf16 (AVX2 only), autocast to bf16 was measured 20x *slower* than
fp32 for ResNet-18 here, so ``auto`` checks the CPU before choosing it.

``LUMOS_NATIVE_BF16=1`` (or ``0``) makes lumos believe the CPU does (or does not) compute
bf16 natively, so that ``auto`` takes either path on any machine: the test suite is run
both ways (docs/training.md).
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from lumos.recipe import Precision

NATIVE_BF16_VARIABLE = "LUMOS_NATIVE_BF16"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), unless
    ``LUMOS_NATIVE_BF16`` says otherwise."""
    forced = os.environ.get(NATIVE_BF16_VARIABLE, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def cpu_description() -> tuple[str, set[str]]:
    """This CPU's model name and feature flags (from ``/proc/cpuinfo`` where there is one)."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return model, flags


@dataclass(frozen=True)
class Arithmetic:
    device: torch.device
    dtype: torch.dtype  # the autocast dtype; float32 means no autocast

    @property
    def autocast(self) -> bool:
        return self.dtype != torch.float32

    @property
    def needs_scaler(self) -> bool:
        return self.device.type == "cuda" and self.dtype == torch.float16

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.autocast):
            yield

    def describe(self) -> str:
        name = {
            torch.float32: "fp32",
            torch.bfloat16: "bf16 autocast",
            torch.float16: "fp16 autocast",
        }[self.dtype]
        return f"{self.device.type} {name}"


def choose(
    precision: Precision, device: str | None = None, *, cpu_autocast: bool = True
) -> Arithmetic:
    """The device (CUDA if present unless ``device`` says otherwise) and its arithmetic;
    ``cpu_autocast=False`` keeps ``auto`` at fp32 on a CPU (a task that bf16 costs accuracy)."""
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if precision == "fp32":
        return Arithmetic(target, torch.float32)
    if precision == "bf16":
        return Arithmetic(target, torch.bfloat16)
    if precision == "fp16":
        return Arithmetic(target, torch.float16)
    if target.type == "cuda":
        return Arithmetic(
            target, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        )
    native = cpu_autocast and cpu_has_native_bf16()
    return Arithmetic(target, torch.bfloat16 if native else torch.float32)
