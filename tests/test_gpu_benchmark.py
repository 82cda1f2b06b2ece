"""``benchmarks/gpu.py --smoke``: every step of the GPU benchmark, on the CPU at tiny sizes,
so that the script a lent GPU runs once has run before."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_the_gpu_benchmark_runs_every_step_on_the_cpu() -> None:
    done = subprocess.run(
        [sys.executable, "gpu.py", "--smoke"], cwd=BENCHMARKS, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    trained = next(line for line in lines if line.startswith("(a) resnet18 32x32"))
    assert "lumos " in trained and "plain loop " in trained and "x (goal >= 0.95)" in trained
    assert any(line.startswith("(b) fcos_cs3darknet_n_fpn 64x64") for line in lines)
    assert sum(line.startswith("(c) ") for line in lines) == 4
    assert "|error| median " in done.stdout
    assert {"torch", "onnxruntime"} <= {line.split()[1] for line in lines if line[:3] == "(d)"}
    served = next(line for line in lines if line.startswith("(e) lumos serve --backend torch"))
    assert "failed 0/32" in served


def test_the_gpu_benchmark_says_plainly_when_there_is_no_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    gpu = importlib.import_module("gpu")
    monkeypatch.setattr(gpu.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["gpu.py"])
    with pytest.raises(SystemExit, match="no CUDA device: run with --smoke for the CPU rehearsal"):
        gpu.main()
