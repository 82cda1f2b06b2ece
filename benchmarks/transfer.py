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

import transfer_data as make
import transfer_report
from lumos.bundle import list_bundles
from lumos.data import Dataset, ImportOptions, import_dataset
from lumos.deploy.from_job import bundle_from_job
from lumos.train import Recipe, train
from lumos.train.trainer import Trainer
from lumos.transfer.rank import rank
from lumos.workspace import Workspace
from machine import print_machine

NETWORK = "resnet18"
DIGITS = [str(d) for d in range(10)]
PHOTO_PARTS = [f"{photo}-{half}" for photo in ("china", "flower") for half in ("top", "bottom")]
# name: (maker, classes, images a class)
SOURCES = {
    "digits": (make.handwritten_digits, DIGITS, 150),
    "digits-few": (make.handwritten_digits, DIGITS, 12),
    "letters-am": (make.glyphs, list("ABCDEFGHIJKLM"), 100),
    "shapes": (make.shapes, ["circle", "square", "triangle", "pentagon"], 300),
    "gratings": (make.gratings, ["0", "45", "90", "135"], 300),
    "textures": (make.textures, ["white", "pink", "brown", "checks", "dots"], 240),
    "colours": (make.colours, list(make.HUES), 150),
    "photos": (
        make.photo_patches,
        ["china-top", "china-bottom", "flower-top", "flower-bottom"],
        300,
    ),
    "noise": (make.random_labels, DIGITS, 100),
}
TRAIN, TEST = 20, 40  # a target's training and test images a class
# name: (maker, classes, held out of the choice of the default)
TARGETS = {
    "font-digits": (make.glyphs, DIGITS, False),
    "lowercase": (make.glyphs, list("abcdefgh"), False),
    "new-shapes": (make.shapes, ["ring", "star", "diamond", "cross", "bar", "hexagon"], False),
    "diagonals": (make.gratings, ["22", "67", "112", "157"], False),
    "shape-colours": (make.coloured_shapes, ["red", "green", "blue", "yellow"], True),
    "letters-nt": (make.glyphs, list("NOPQRST"), True),
}
STRATEGY_SOURCES = ("digits", "letters-am", "shapes", "textures")  # near and far ones
STRATEGIES = {
    "full": {},
    "linear-probe": {"finetune": "linear-probe"},
    "lp-ft": {"finetune": "lp-ft"},
    "discriminative": {"body_lr": 0.002},
}


def build_sources(workspace: Workspace, work: Path) -> None:
    """Train and save every source model not saved yet."""
    saved = {row["name"] for row in list_bundles(workspace)}
    for index, (name, (maker, classes, per_class)) in enumerate(SOURCES.items()):
        if name in saved:
            continue
        folder = maker(work / "data" / name, classes, per_class, 100 + index)
        import_dataset(folder, name, ImportOptions(val_percent=15, test_percent=0, channels=3),
                       workspace=workspace)  # fmt: skip
        recipe = Recipe(dataset=name, network=NETWORK, epochs=10, batch_size=64, lr=0.05,
                        workers=1, seed=0)  # fmt: skip
        started = time.perf_counter()
        job = train(recipe, workspace=workspace, progress=False)
        bundle_from_job(job.id, name, workspace=workspace)
        print(f"source {name}: {time.perf_counter() - started:.0f} s", flush=True)


def build_target(name: str, workspace: Workspace, work: Path) -> Dataset:
    """Target ``name``: TRAIN training and TEST test images a class (the test images are
    its validation split, scored once, after the last epoch)."""
    try:
        return Dataset.open(name, workspace)
    except Exception:  # not made yet
        maker, classes, _ = TARGETS[name]
        index = list(TARGETS).index(name)
        folder = maker(work / "data" / name, classes, TRAIN + TEST, 200 + index)
        share = 100 * TEST / (TRAIN + TEST)
        options = ImportOptions(val_percent=share, test_percent=0, channels=3)
        import_dataset(folder, name, options, workspace=workspace)
        return Dataset.open(name, workspace)


def fine_tune(dataset: Dataset, workspace: Workspace, source: str | None, strategy: str,
              seed: int, epochs: int) -> dict:  # fmt: skip
    """One run of the fixed budget: its test accuracy and seconds."""
    recipe = Recipe(dataset=dataset.name, network=NETWORK, init=source, epochs=epochs,
                    batch_size=32, lr=0.02, val_every=epochs, workers=1, seed=seed,
                    **STRATEGIES[strategy])  # fmt: skip
    started = time.perf_counter()
    state = Trainer(recipe, dataset, workspace=workspace).fit()
    return {"accuracy": state.history[-1]["val_accuracy"], "seconds": time.perf_counter() - started}


def ground_truth(target: str, workspace: Workspace, work: Path, seeds: int, epochs: int) -> None:
    """Every source (and none) fine-tuned on ``target`` over seeds, and the other
    strategies from STRATEGY_SOURCES with seed 0; kept in truth-<target>.json as they
    finish."""
    dataset = build_target(target, workspace, work)
    path = work / f"truth-{target}.json"
    done = json.loads(path.read_text()) if path.is_file() else {}
    runs = [(s, "full", seed) for s in [*SOURCES, None] for seed in range(seeds)]
    runs += [
        (s, strategy, 0) for s in STRATEGY_SOURCES for strategy in STRATEGIES if strategy != "full"
    ]
    for source, strategy, seed in runs:
        key = f"{source or 'scratch'}|{strategy}|{seed}"
        if key not in done:
            done[key] = fine_tune(dataset, workspace, source, strategy, seed, epochs)
            path.write_text(json.dumps(done, indent=1))
            print(f"{target} {key}: {done[key]['accuracy']:.3f} "
                  f"({done[key]['seconds']:.0f} s)", flush=True)  # fmt: skip


def ranking(target: str, workspace: Workspace, work: Path) -> None:
    """The whole pool ranked for ``target`` from a cold cache, kept in rank-<target>.json."""
    dataset = build_target(target, workspace, work)
    for cached in (dataset.folder / "features").glob("*.pt"):
        cached.unlink()
    started = time.perf_counter()
    ranked = rank(target, list(SOURCES), workspace=workspace)
    seconds = time.perf_counter() - started
    rows = [s.as_dict() for s in ranked]
    (work / f"rank-{target}.json").write_text(json.dumps({"seconds": seconds, "sources": rows}))
    print(f"{target}: ranked {len(rows)} sources in {seconds:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path)
    parser.add_argument("--phase", default="all",
                        choices=["all", "sources", "truth", "rank", "report"])  # fmt: skip
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="lumos-transfer-"))
    work.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(work / "ws").ensure()
    targets = [t for t in args.targets.split(",") if t]
    if args.phase in ("all", "sources"):
        build_sources(workspace, work)
    for target in targets if args.phase in ("all", "truth") else []:
        ground_truth(target, workspace, work, args.seeds, args.epochs)
    for target in targets if args.phase in ("all", "rank") else []:
        ranking(target, workspace, work)
    if args.phase in ("all", "report"):
        transfer_report.report(work, TARGETS, STRATEGIES)


if __name__ == "__main__":
    main()
