"""How long an epoch takes on a catalogue device, and what it costs.

An epoch's parts, each said to be counted, measured or estimated:

- compute: the training step's FLOPs (counted operator by operator, forward and backward,
  by ``FlopCounterMode`` in the first of the real steps the efficiency is measured with)
  times the images, over the device's peak throughput (the catalogue's) at the recipe's
  arithmetic times an efficiency: the share of peak this network's training really
  reaches, measured here (real training steps against the best dense matrix product this
  CPU does, both in its fastest arithmetic). A GPU reaches its own share, not this CPU's:
  an estimate;
- step overhead: what a step costs whatever its batch (the framework's dispatch of every
  operator, the optimiser's loop), measured here from steps at two batch sizes, once a step;
  a device runs no step faster than its host dispatches it;
- loading: the training images over the rate the data loader reads them (measured on the
  dataset, where there is one); it overlaps compute, so the slower of the two counts;
- validation: the validation images' forward passes (a third of a training step's FLOPs).
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from lumos.arithmetic import cpu_description, cpu_has_native_bf16
from lumos.fileio import write_json_atomic
from lumos.plan.hardware import Device
from lumos.plan.memory import Planner
from lumos.plan.step import TrainingStep, Workload, autocast

RESERVED = 1_000_000_000  # the CUDA context and the libraries' workspaces, kept off a plan
CALIBRATION_BATCH = 8
STEPS = 3  # timed, after one to warm up
GEMM = 1024  # the side of the matrices the CPU's best throughput is measured with


@dataclass(frozen=True)
class Efficiency:
    """The share of this CPU's best throughput one network's training step reaches, and
    the fixed cost of a step."""

    flops_per_image: int  # one training step, forward and backward
    images_per_second: float  # measured on this CPU at the calibration batch
    achieved: float  # FLOP/s, the step overhead left out
    peak: float  # FLOP/s of a dense matrix product, same arithmetic
    processor: str
    step_seconds: float  # what a step costs whatever its batch

    @property
    def share(self) -> float:
        return min(self.achieved / self.peak, 1.0)


@dataclass(frozen=True)
class DevicePlan:
    """One recipe on one device: the batch it trains with, an epoch's time (its parts, see
    the module) and cost."""

    device: Device
    batch: int  # the batch asked for, or the largest that fits where that is smaller
    largest_batch: int
    arithmetic: str  # what the device computes the recipe's precision in
    epoch_seconds: float  # max(compute + overhead, loading) + validation
    usd_per_epoch: float | None
    usd_per_run: float | None
    kwh_per_run: float
    compute_seconds: float = 0.0
    overhead_seconds: float = 0.0
    loading_seconds: float | None = None  # None: no data loader measured
    validation_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self) | {"device": self.device.key, "name": self.device.name}


def efficiency(work: Workload, cache: Path | None = None) -> Efficiency:
    """Measure (or read from ``cache``, a JSON file) this network's share of this CPU's
    best throughput, in the arithmetic this CPU computes fastest (bf16 where it is native,
    else fp32): how well the network's layers use a machine, not how this CPU does fp16."""
    work = replace(work, precision="bf16" if cpu_has_native_bf16() else "fp32")
    key = _cache_key(work)
    known = _read_cache(cache)
    if key in known:
        return Efficiency(**known[key])
    # Two images the smaller step: batch norm over a 1x1 map cannot train on one.
    (two, _), (batch, counted) = (
        _step_seconds(TrainingStep(work, size)) for size in (2, CALIBRATION_BATCH)
    )
    flops = counted // CALIBRATION_BATCH
    per_image = max((batch - two) / (CALIBRATION_BATCH - 2), batch / CALIBRATION_BATCH / 10)
    overhead = max(batch - CALIBRATION_BATCH * per_image, 0.0)
    found = Efficiency(flops, CALIBRATION_BATCH / batch, flops / per_image,
                       _best_throughput(work.precision), _processor(), overhead)  # fmt: skip
    if cache is not None:
        write_json_atomic(cache, known | {key: asdict(found)})
    return found


def efficiency_cache(workspace_root: Path | None) -> Path | None:
    """Where a workspace keeps the measured efficiencies (None: no workspace, no cache)."""
    if workspace_root is None or not workspace_root.is_dir():
        return None
    return workspace_root / "plan" / "efficiency.json"


def on_device(
    planner: Planner,
    device: Device,
    batch: int,
    *,
    images: int,
    epochs: int,
    measured: Efficiency,
    val_images: int = 0,
    loader_rate: float | None = None,
) -> DevicePlan:
    """``planner``'s recipe at ``batch`` (or the largest that fits) on ``device``: an
    epoch of ``images`` training and ``val_images`` validation images, the training images
    read at ``loader_rate`` images/s where it was measured."""
    largest = planner.largest_batch(max(device.memory - RESERVED, 0))
    peak, arithmetic = device.throughput(planner.work.precision)
    per_image = measured.flops_per_image / (peak * measured.share)
    steps = math.ceil(images / max(min(batch, largest), 1))
    compute, overhead = images * per_image, steps * measured.step_seconds
    loading = images / loader_rate if loader_rate else None
    validation = val_images * per_image / 3
    seconds = max(compute + overhead, loading or 0.0) + validation
    hours = seconds * epochs / 3600
    price = device.usd_per_hour
    return DevicePlan(
        device=device,
        batch=min(batch, largest),
        largest_batch=largest,
        arithmetic=arithmetic,
        epoch_seconds=seconds,
        usd_per_epoch=price * seconds / 3600 if price is not None else None,
        usd_per_run=price * hours if price is not None else None,
        kwh_per_run=device.watts * hours / 1000,
        compute_seconds=compute,
        overhead_seconds=overhead,
        loading_seconds=loading,
        validation_seconds=validation,
    )


def ranked(runs: list[DevicePlan]) -> list[tuple[DevicePlan, int | None]]:
    """``runs`` fastest first (those where not one image fits last), each with its rank by
    the cost of a run (None without a price or a fit)."""
    by_time = sorted(runs, key=lambda r: (r.largest_batch == 0, r.epoch_seconds))
    priced = [r for r in runs if r.usd_per_run is not None and r.largest_batch]
    by_cost = {id(r): rank for rank, r in enumerate(sorted(priced, key=_run_cost), start=1)}
    return [(run, by_cost.get(id(run))) for run in by_time]


def _run_cost(run: DevicePlan) -> float:
    return run.usd_per_run or 0.0


def _step_seconds(step: TrainingStep) -> tuple[float, int]:
    """The median seconds of a steady-state step, and the floating-point operations of the
    untimed step before them (which makes the optimiser's state; multiply and add counted
    apart)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return statistics.median(_timed(step) for _ in range(STEPS)), counter.get_total_flops()


def _timed(step: TrainingStep) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _best_throughput(precision: str) -> float:
    """FLOP/s of this CPU's dense matrix product in ``precision`` (median of five)."""
    a, b = torch.rand(GEMM, GEMM), torch.rand(GEMM, GEMM)
    with autocast(precision):
        torch.mm(a, b)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - start)
    return 2 * GEMM**3 / statistics.median(times)


def _processor() -> str:
    return f"{cpu_description()[0]}, {torch.get_num_threads()} threads"


def _cache_key(work: Workload) -> str:
    text = json.dumps(
        [work.spec.model_dump(mode="json"), work.optimizer, work.precision, _processor(),
         torch.__version__, CALIBRATION_BATCH, "step overhead"],
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_cache(cache: Path | None) -> dict:
    if cache is None or not cache.is_file():
        return {}
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a damaged cache is measured again
    return known if isinstance(known, dict) else {}
