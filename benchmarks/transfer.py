"""How well `lumos transfer rank` picks the model to start from (issue 13).

A pool of source models, each trained by lumos on its own generated data set
(`transfer_data.py`), and target data sets. Ground truth: the test accuracy each source
reaches when fully fine-tuned on each target with a fixed budget (mean over seeds), and
the same network trained from scratch. Against it, per target: Kendall's tau and weighted
tau of every estimator and of the default score, top-1 regret, the time one ranking of
the whole pool takes over one fine-tuning run, the negative-transfer flags, the seed's P2L
table, and which fine-tuning strategy (full, linear probe, LP-FT, discriminative rates)
wins how often at what cost (from four of the sources, near and far ones, to save time).
Two targets are held out of the choice of the default and reported apart.

Everything is kept in --work (default: a temporary folder), so phases can run apart and
a second run only computes what is missing; `--targets A,B` splits the fine-tuning over
processes (run `--phase sources` first).

    python benchmarks/transfer.py [--work DIR] [--phase all|sources|truth|rank|report]
                                  [--targets A,B] [--seeds 2] [--epochs 15] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import transfer_report
from lumos.bundle import list_bundles
from lumos.bundle.fingerprint import KEPT
from lumos.data import Dataset, ImportOptions, import_dataset
from lumos.deploy.from_job import bundle_from_job
from lumos.plan.timing import efficiency_cache
from lumos.train import Recipe, train
from lumos.train.trainer import Trainer
from lumos.transfer.budget import FineTune
from lumos.transfer.rank import rank
from lumos.workspace import Workspace
from machine import print_machine
from transfer_pools import POOLS, Pool

SCRATCH = "scratch:"  # a fine-tuning run from a freshly initialised network

STRATEGIES = {
    "full": {},
    "linear-probe": {"finetune": "linear-probe"},
    "lp-ft": {"finetune": "lp-ft"},
    "discriminative": {"body_lr": 0.002},
}


def build_sources(pool: Pool, workspace: Workspace, work: Path) -> None:
    """Train and save every source model of ``pool`` not saved yet."""
    saved = {row["name"] for row in list_bundles(workspace)}
    for index, (name, source) in enumerate(pool.sources.items()):
        if name in saved:
            continue
        folder = source.maker(work / "data" / name, source.classes, source.per_class, 100 + index)
        import_dataset(folder, name, ImportOptions(val_percent=15, test_percent=0, channels=3),
                       workspace=workspace)  # fmt: skip
        recipe = Recipe(dataset=name, network=source.network, workers=1, seed=0,
                        **pool.source_recipe)  # fmt: skip
        started = time.perf_counter()
        job = train(recipe, workspace=workspace, progress=False)
        bundle_from_job(job.id, name, workspace=workspace)
        print(f"source {name}: {time.perf_counter() - started:.0f} s", flush=True)


def build_target(pool: Pool, name: str, workspace: Workspace, work: Path) -> Dataset:
    """Target ``name``: its training and test images a class (the test images are its
    validation split, scored once, after the last epoch)."""
    try:
        return Dataset.open(name, workspace)
    except Exception:  # not made yet
        target = pool.targets[name]
        index = list(pool.targets).index(name)
        folder = target.maker(work / "data" / name, target.classes, target.train + target.test,
                              200 + index)  # fmt: skip
        share = 100 * target.test / (target.train + target.test)
        options = ImportOptions(val_percent=share, test_percent=0, channels=3)
        import_dataset(folder, name, options, workspace=workspace)
        return Dataset.open(name, workspace)


def fine_tune(pool: Pool, dataset: Dataset, workspace: Workspace, start: str, strategy: str,
              seed: int) -> dict:  # fmt: skip
    """One run of the pool's fixed budget from ``start`` (a source, or ``scratch:NETWORK``):
    its test accuracy and seconds."""
    scratch = start.startswith(SCRATCH)
    network = start[len(SCRATCH) :] if scratch else pool.sources[start].network
    recipe = Recipe(dataset=dataset.name, network=network, init=None if scratch else start,
                    val_every=pool.tune["epochs"], workers=1, seed=seed, **pool.tune,
                    **STRATEGIES[strategy])  # fmt: skip
    started = time.perf_counter()
    state = Trainer(recipe, dataset, workspace=workspace).fit()
    return {"accuracy": state.history[-1]["val_accuracy"], "seconds": time.perf_counter() - started}


def ground_truth(pool: Pool, target: str, workspace: Workspace, work: Path, seeds: int,
                 strategies: bool) -> None:  # fmt: skip
    """Every source (and each network from scratch) fine-tuned on ``target`` over seeds,
    and with ``strategies`` the pool's strategy sources with the other strategies, seed 0;
    kept in truth-<target>.json as they finish."""
    dataset = build_target(pool, target, workspace, work)
    path = work / f"truth-{target}.json"
    done = json.loads(path.read_text()) if path.is_file() else {}
    starts = [*pool.sources, *(SCRATCH + network for network in pool.networks)]
    runs = [(start, "full", seed) for start in starts for seed in range(seeds)]
    runs += [
        (s, strategy, 0)
        for s in pool.strategy_sources if strategies
        for strategy in STRATEGIES if strategy != "full"
    ]  # fmt: skip
    for start, strategy, seed in runs:
        key = f"{start}|{strategy}|{seed}"
        if key not in done:
            done[key] = fine_tune(pool, dataset, workspace, start, strategy, seed)
            path.write_text(json.dumps(done, indent=1))
            print(f"{target} {key}: {done[key]['accuracy']:.3f} "
                  f"({done[key]['seconds']:.0f} s)", flush=True)  # fmt: skip


def ranking(pool: Pool, target: str, workspace: Workspace, work: Path, *, as_user: bool) -> None:
    """The whole pool ranked for ``target`` from a cold cache (the features, the target's
    fingerprint and the planner's measured speeds, as on a new dataset), kept in
    rank-<target>.json: every estimator and the probe on up to 2,000 images, or
    (``as_user``) as `lumos transfer rank` does by default, within its budget, in
    rank-budget-<target>.json."""
    dataset = build_target(pool, target, workspace, work)
    speeds = efficiency_cache(workspace.root)
    for cached in [*(dataset.folder / "features").glob("*.pt"), dataset.folder / KEPT, speeds]:
        cached.unlink(missing_ok=True)
    tune = FineTune(**pool.tune)
    started = time.perf_counter()
    ranked = rank(target, list(pool.sources), workspace=workspace, tune=tune,
                  everything=not as_user)  # fmt: skip
    seconds = time.perf_counter() - started
    name = f"rank-budget-{target}.json" if as_user else f"rank-{target}.json"
    (work / name).write_text(json.dumps(ranked.as_dict() | {"seconds": seconds}))
    print(f"{target}: ranked {len(ranked.sources)} sources on {ranked.images} images in "
          f"{seconds:.1f} s", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path)
    parser.add_argument("--pool", default="glyphs", choices=[*POOLS, "all"])
    phases = ["all", "sources", "truth", "rank", "budget", "report"]
    parser.add_argument("--phase", default="all", choices=phases)
    parser.add_argument("--targets", help="comma-separated (default: every target of the pool)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--strategies", action="store_true",
                        help="fine-tune with the other strategies too (seed 0)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(args.threads)
    root = args.work or Path(tempfile.mkdtemp(prefix="lumos-transfer-"))
    for name in POOLS if args.pool == "all" else [args.pool]:
        pool, work = POOLS[name], root / name
        work.mkdir(parents=True, exist_ok=True)
        workspace = Workspace(work / "ws").ensure()
        targets = args.targets.split(",") if args.targets else list(pool.targets)
        if args.phase in ("all", "sources"):
            build_sources(pool, workspace, work)
        for target in targets if args.phase in ("all", "truth") else []:
            ground_truth(pool, target, workspace, work, args.seeds, args.strategies)
        for target in targets if args.phase in ("all", "rank") else []:
            ranking(pool, target, workspace, work, as_user=False)
        for target in targets if args.phase in ("all", "budget") else []:
            ranking(pool, target, workspace, work, as_user=True)
    if args.phase in ("all", "report"):
        transfer_report.report(root, POOLS, STRATEGIES)


if __name__ == "__main__":
    main()
