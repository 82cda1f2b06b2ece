"""The machine a benchmark runs on, printed first by every script, so that a figure copied
into docs/BENCHMARKS.md names the CPU (model and the flags that decide its arithmetic) and
the software it was measured with."""

from __future__ import annotations

import os

import torch

from lumos.arithmetic import choose, cpu_description
from lumos.threads import cores

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")  # what the kernels use
FORCED = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "LUMOS_NATIVE_BF16")


def machine() -> str:
    """One line: CPU model, its vector flags, cores, what ``precision: auto`` takes, torch."""
    model, flags = cpu_description()
    vector = " ".join(f for f in FLAGS if f in flags) or "no AVX2"
    forced = " ".join(f"{k}={os.environ[k]}" for k in FORCED if k in os.environ)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"machine: {model} ({vector}{'; ' + forced if forced else ''}), {cores()} cores, "
        f"{gpu}; precision auto -> {choose('auto').describe()}; torch {torch.__version__}"
    )


def print_machine() -> None:
    print(machine(), flush=True)
