"""The machine a benchmark runs on, printed first by every script, so that a figure copied
into docs/BENCHMARKS.md names the CPU (model and the flags that decide its arithmetic) and
the software it was measured with."""

from __future__ import annotations

import os

from lumos.arithmetic import choose
from lumos.deploy.bench import machine

FORCED = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "LUMOS_NATIVE_BF16")  # emulated CPUs


def print_machine() -> None:
    """One line: CPU model and flags, cores, GPU, what ``precision: auto`` takes, versions."""
    about = machine()
    forced = "".join(f"; {k}={os.environ[k]}" for k in FORCED if k in os.environ)
    print(
        f"machine: {about['cpu']} ({' '.join(about['cpu_flags']) or 'no AVX2'}{forced}), "
        f"{about['cores']} cores, {about['gpu'] or 'no GPU'}; precision auto -> "
        f"{choose('auto').describe()}; torch {about['torch']}, "
        f"onnxruntime {about['onnxruntime']}",
        flush=True,
    )
