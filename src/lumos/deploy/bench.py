"""Latency and throughput of a bundle per backend and batch size: the trade-off in numbers.

Each (target, batch size) runs a few warm-up batches that are not counted, then timed
batches until both a minimum count and a minimum time are reached. Latency is per batch
(p50/p95/p99); throughput is images per second at the median. The machine is stated with
the results, since none of them mean anything without it.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch

from lumos.arithmetic import cpu_description
from lumos.bundle import Bundle
from lumos.deploy.export import example_input
from lumos.deploy.runtime import predictor_for
from lumos.errors import LumosError
from lumos.figures import pyplot
from lumos.fileio import write_json_atomic

DEFAULT_BATCHES = (1, 8, 32, 128)
CPU_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile")


@dataclass
class BenchRow:
    target: str
    batch: int
    runs: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    images_per_s: float


def machine() -> dict[str, Any]:
    """Cores, CPU model and vector flags, GPU, and library versions of this machine."""
    import onnxruntime as ort

    model, flags = cpu_description()
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "cpu_flags": [f for f in CPU_FLAGS if f in flags],
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
    }


def targets(bundle: Bundle, names: Sequence[str] | None = None) -> list[str]:
    """What to measure: backends (``torch``, ``onnxruntime``, ...) and artefacts on ONNX
    Runtime (``onnxruntime:int8``); by default PyTorch, the fp32 export and every artefact."""
    if names:
        return list(names)
    return ["torch", "onnxruntime"] + [f"onnxruntime:{a}" for a in bundle.meta.artefacts]


def time_batches(
    run: Callable[[np.ndarray], object],
    batch: np.ndarray,
    *,
    warmup: int = 3,
    min_runs: int = 10,
    min_seconds: float = 1.0,
    max_runs: int = 1000,
) -> list[float]:
    """Seconds of each timed call of ``run(batch)`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run(batch)
    times: list[float] = []
    started = perf_counter()
    while len(times) < max_runs and (
        len(times) < min_runs or perf_counter() - started < min_seconds
    ):
        start = perf_counter()
        run(batch)
        times.append(perf_counter() - start)
    return times


def row_of(target: str, batch: int, times: list[float]) -> BenchRow:
    p50, p95, p99 = np.percentile(np.asarray(times) * 1000, [50, 95, 99])
    return BenchRow(
        target, batch, len(times), float(p50), float(p95), float(p99), batch / (p50 / 1000)
    )


def benchmark(
    bundle: Bundle,
    names: Sequence[str] | None = None,
    batch_sizes: Sequence[int] = DEFAULT_BATCHES,
    *,
    min_runs: int = 10,
    min_seconds: float = 1.0,
    on_row: Callable[[BenchRow], None] | None = None,
    trust_code: bool = False,
) -> list[BenchRow]:
    """Time every target at every batch size on random images of the network's input size."""
    if not batch_sizes or min(batch_sizes) < 1:
        raise LumosError("batch sizes must be whole numbers of at least 1")
    rows = []
    for target in targets(bundle, names):
        predictor = predictor_for(bundle, target, trust_code=trust_code)
        for size in batch_sizes:
            batch = example_input(bundle, size).numpy()
            times = time_batches(
                predictor.outputs, batch, min_runs=min_runs, min_seconds=min_seconds
            )
            rows.append(row_of(target, size, times))
            if on_row:
                on_row(rows[-1])
    return rows


def write_results(rows: list[BenchRow], folder: Path, title: str) -> list[Path]:
    """``bench.csv``, ``bench.json`` (with the machine) and ``bench.png`` (latency against
    throughput, one line per target, points labelled by batch size)."""
    plt = pyplot()

    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "bench.csv"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    write_json_atomic(
        folder / "bench.json", {"machine": machine(), "rows": [asdict(r) for r in rows]}
    )
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for target in dict.fromkeys(r.target for r in rows):
        mine = [r for r in rows if r.target == target]
        axes.plot([r.images_per_s for r in mine], [r.p50_ms for r in mine], "o-", label=target)
        for r in mine:
            axes.annotate(
                f"b{r.batch}",
                (r.images_per_s, r.p50_ms),
                fontsize=7,
                textcoords="offset points",
                xytext=(3, 3),
            )
    axes.set(
        xlabel="throughput (images/s)",
        ylabel="latency per batch, p50 (ms)",
        yscale="log",
        title=title,
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    picture = folder / "bench.png"
    figure.savefig(picture)
    plt.close(figure)
    return [table, folder / "bench.json", picture]
