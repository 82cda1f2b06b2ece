"""``python -m lumos.train.process``: one of a training run's processes, as torchrun starts
them (``lumos train ... --nproc N``; :mod:`lumos.train.launch`).

The processes join the process group (gloo on CPUs, NCCL on GPUs), then agree on who
writes: the first process whose machine holds the job (``--job``). That one reads the
job's recipe and its last checkpoint and sends both to the others, so a machine that
joins needs the dataset and nothing else; all then train in step, and only it keeps the
job's state, log, metrics and checkpoints.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

import torch
import torch.distributed as dist

from lumos.errors import LumosError
from lumos.jobs import open_job
from lumos.recipe import Recipe
from lumos.train.callbacks import LAST
from lumos.train.checkpoints import load_checkpoint
from lumos.train.group import Group
from lumos.train.run import run
from lumos.workspace import Workspace

COLLECTIVE_TIMEOUT = timedelta(minutes=30)  # a step the others wait for (validation, a save)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lumos.train.process")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--job", help="the job, on the machine that keeps it")
    parser.add_argument("--device", help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--progress", action="store_true", help="the writing process's bar")
    args = parser.parse_args(argv)
    cuda = (args.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = f"cuda:{local}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=COLLECTIVE_TIMEOUT)
    try:
        _train(Workspace(args.workspace), args.job, device, args.progress)
    except LumosError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        dist.destroy_process_group()
    return 0


def _train(workspace: Workspace, job_id: str | None, device: str, progress: bool) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    holders: list[str | None] = [None] * world
    dist.all_gather_object(holders, job_id)
    leaders = [r for r, held in enumerate(holders) if held]
    if not leaders:
        raise LumosError("no machine holds the job: start machine 0 (--node-rank 0) too")
    leader = leaders[0]
    job = open_job(workspace, holders[leader]) if rank == leader else None  # type: ignore[arg-type]
    shared: list[object] = [None, None]
    if job is not None:
        last = job.folder / "checkpoints" / LAST
        recipe = Recipe.load(job.folder / "recipe.yaml")
        shared = [recipe.model_dump(mode="json"), load_checkpoint(last) if last.is_file() else None]
    dist.broadcast_object_list(shared, src=leader)
    recipe = Recipe.parse(shared[0], "the leading process's recipe")  # type: ignore[arg-type]
    group = Group(rank=rank, processes=world, writes=rank == leader)
    payload: dict | None = shared[1]  # type: ignore[assignment]
    run(workspace, job, recipe, payload, progress=progress and group.writes, device=device,
        group=group)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
