"""DistributedDataParallel's gradient bucket size on a CPU: the training step of 2 processes
x 1 thread (gloo, ``gradient_as_bucket_view`` as lumos wraps the model) at several
``bucket_cap_mb`` against 1 process x 2 threads at the same global batch. ResNet-18 with the
small-input stem on random 32x32 images, bf16 autocast where the CPU has it; each figure the
median step of a run, the runs interleaved.

    python benchmarks/ddp_buckets.py [--batch-size 64] [--steps 15] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lumos.arithmetic import choose
from lumos.models.network import NetworkSpec, build_network
from machine import print_machine

CAPS = (None, 1, 5, 100)  # MB; None: DDP's default (25)


def _network() -> nn.Module:
    torch.manual_seed(0)
    return build_network(NetworkSpec(name="resnet18", num_classes=10, in_channels=3,
                                     input_size=(32, 32)))  # fmt: skip


def _median_step(model: nn.Module, batch: int, steps: int) -> float:
    """The median seconds of ``steps`` SGD steps (the first three left out)."""
    arithmetic = choose("auto")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        with arithmetic.context():
            loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times[3:])


def _process(rank: int, port: int, cap: float | None, batch: int, steps: int, found) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    options = {} if cap is None else {"bucket_cap_mb": cap}
    model = DistributedDataParallel(_network(), gradient_as_bucket_view=True, **options)
    seconds = _median_step(model, batch // 2, steps)
    if rank == 0:
        found.put(seconds)
    dist.destroy_process_group()


def _two_processes(cap: float | None, batch: int, steps: int) -> float:
    context = mp.get_context("spawn")
    found = context.SimpleQueue()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    processes = [context.Process(target=_process, args=(rank, port, cap, batch, steps, found))
                 for rank in range(2)]  # fmt: skip
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return found.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(2)
    one: list[float] = []
    two: dict[float | None, list[float]] = {cap: [] for cap in CAPS}
    for _ in range(args.repeats):
        one.append(_median_step(_network(), args.batch_size, args.steps))
        for cap in CAPS:
            two[cap].append(_two_processes(cap, args.batch_size, args.steps))
    base = statistics.median(one)
    print(f"batch {args.batch_size}, median of {args.repeats} runs of {args.steps} steps")
    print(f"1 process x 2 threads          {1000 * base:6.0f} ms a step")
    for cap, runs in two.items():
        step = statistics.median(runs)
        name = "default (25)" if cap is None else f"{cap:g}"
        print(f"2 processes, bucket {name:>12s} MB {1000 * step:6.0f} ms a step  "
              f"{base / step:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
