import io
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from rich.console import Console

from helpers import (
    colour_folders,
    colour_labels,
    colours_recipe,
    import_squares,
    run_cli,
    squares_recipe,
)
from lumos.bundle import save_bundle
from lumos.data import Dataset, import_dataset
from lumos.jobs import list_jobs, open_job
from lumos.models import NetworkSpec, build_network
from lumos.models.normalization import identity, normalized_model
from lumos.models.registry import REGISTRY
from lumos.train import Recipe, TrainError, train
from lumos.train import checkpoints as checkpoint_module
from lumos.train.callbacks import BEST, LAST, ProgressBar
from lumos.train.checkpoints import CheckpointError, load_checkpoint, load_weights
from lumos.train.setup import normalization
from lumos.train.trainer import Callback, Trainer
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("train")).ensure()
    import_dataset("sample:digits", "digits", workspace=workspace, max_per_class=60)
    import_dataset("sample:shapes", "shapes", workspace=workspace)
    return workspace


def lenet(**values: object) -> Recipe:
    settings = {
        "dataset": "digits",
        "network": "lenet5",
        "epochs": 3,
        "batch_size": 32,
        "lr": 0.05,
        "workers": 0,
        "precision": "fp32",  # the scores asserted were measured in it
    }
    return Recipe(**{**settings, **values})


def history(job_folder: Path) -> list[dict]:
    lines = (job_folder / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "epoch"]


def test_lenet_learns_digits(home: Workspace) -> None:
    job = train(lenet(epochs=6), workspace=home, progress=False)
    assert job.state == "done" and open_job(home, job.id).state == "done"
    epochs = history(job.folder)
    assert len(epochs) == 6 and epochs[-1]["val_accuracy"] >= 0.9
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    payload = load_checkpoint(job.folder / "checkpoints" / LAST)
    assert payload["state"]["epoch"] == 6
    weights = load_weights(job.folder / "checkpoints" / BEST)
    assert weights["net.features.0.weight"].shape == (6, 1, 5, 5)
    assert "normalize.mean" in weights
    steps = [json.loads(line) for line in (job.folder / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "step" and r["images_per_s"] > 0 for r in steps)
    # A step record's loss is its own images' (here one batch each, the last one smaller),
    # not a running mean that starts again at every epoch: an epoch's records, weighted by
    # their images, average to the epoch's loss.
    images = len(Dataset.open("digits", home).split("train"))
    sizes = [32] * (images // 32) + [images % 32] * bool(images % 32)
    for epoch in epochs:
        within = range(epoch["epoch"] - 1, epoch["epoch"])
        losses = [r["train_loss"] for r in steps
                  if r["kind"] == "step" and within.start < r["epoch"] <= within.stop]  # fmt: skip
        mean = sum(loss * n for loss, n in zip(losses, sizes, strict=True)) / images
        assert mean == pytest.approx(epoch["train_loss"], rel=1e-4)


def _lumos(home: Workspace, *args: str, threads: int = 1) -> subprocess.Popen:
    """``lumos ARGS`` in a process of its own, as a person runs it; its error output goes to
    ``home/stderr.txt`` (read by :func:`_said`)."""
    env = {**os.environ, "LUMOS_HOME": str(home.root), "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-c", "from lumos.cli import main; main()", *args]
    with (home.root / "stderr.txt").open("w") as said:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=said)


def _said(home: Workspace) -> str:
    return (home.root / "stderr.txt").read_text()


RUN = ("train", "dataset=digits", "network=lenet5", "epochs=4", "batch_size=16", "lr=0.05",
       "workers=0", "hflip=true", "rotation=10", "crop_scale=0.8", "checkpoint_steps=20",
       "precision=fp32")  # fmt: skip


def _newest_job(home: Workspace) -> str:
    return list_jobs(home)[0]["id"]


def _final_weights(home: Workspace, job_id: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(home.jobs_dir / job_id / "checkpoints" / LAST)["model"]


def _steps(job_folder: Path) -> list[int]:
    lines = (job_folder / "metrics.jsonl").read_text().splitlines()
    return [r["step"] for r in map(json.loads, lines) if r["kind"] == "step"]


def _wait_until_running(home: Workspace, ready, process: subprocess.Popen) -> str:
    """The running job's id once ``ready(job folder)`` holds."""
    deadline = time.monotonic() + 600  # catches a hang only
    while time.monotonic() < deadline:
        jobs = list_jobs(home)
        if jobs and jobs[0]["state"] == "running" and ready(home.jobs_dir / jobs[0]["id"]):
            return jobs[0]["id"]
        assert process.poll() is None, "training ended before it could be stopped"
        time.sleep(0.01)
    raise AssertionError("training too slow")


def _after_an_epoch(folder: Path) -> bool:
    return (folder / "metrics.jsonl").exists() and len(history(folder)) >= 1


def _after_a_step_checkpoint(folder: Path) -> bool:
    last = folder / "checkpoints" / LAST
    return last.exists() and load_checkpoint(last)["state"]["position"] > 0


@pytest.fixture(scope="module")
def uninterrupted(home: Workspace) -> str:
    """The job of RUN trained whole, once for the module (the tests only read it)."""
    assert _lumos(home, *RUN).wait(600) == 0, _said(home)
    return _newest_job(home)


def test_the_progress_bar_is_one_bar_drawn_by_the_loop(home: Workspace) -> None:
    """A bar kept per epoch, redrawn ten times a second by rich's thread, held the GIL the
    loop needs: the bar is one, reset each epoch, drawn from the loop; each finished epoch
    leaves one line with its loss and speed."""
    screen = io.StringIO()
    bar = ProgressBar(Console(file=screen, force_terminal=True, width=160))
    threads: set[str] = set()

    class Threads(Callback):
        def after_batch(self, trainer: Trainer) -> None:
            threads.update(type(t).__name__ for t in threading.enumerate())

    dataset = Dataset.open("digits", home)
    Trainer(lenet(epochs=3), dataset, callbacks=(bar, Threads())).fit()
    assert bar.bar is not None and len(bar.bar.tasks) == 1
    assert "_RefreshThread" not in threads
    lines = [line for line in screen.getvalue().splitlines() if ": loss " in line]
    assert [line.split(":")[0].split()[-1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all("img/s)" in line and "val_accuracy" in line for line in lines)


@pytest.mark.parametrize(
    ("how", "ready"),
    [(signal.SIGKILL, _after_a_step_checkpoint), (signal.SIGINT, _after_an_epoch)],
)
def test_stopped_and_resumed_run_matches_an_uninterrupted_one(
    home: Workspace, uninterrupted: str, how: signal.Signals, ready
) -> None:
    """Killed inside its first epoch (checkpoints every 20 steps) or stopped with Ctrl-C, and
    resumed under another thread count, a run reaches the same weights and the same chart."""
    reference = uninterrupted

    stopped = _lumos(home, *RUN)
    job_id = _wait_until_running(home, ready, stopped)
    stopped.send_signal(how)
    stopped.wait(600)
    job, said = open_job(home, job_id), _said(home)
    if how == signal.SIGINT:  # an interrupt is not an error: exit 130, the way on kept
        resume = f"resume with `lumos train --resume {job_id}`"
        assert job.state == "aborted" and resume in job.error
        assert stopped.returncode == 130 and said.splitlines()[-1].startswith("lumos: interrupted")
        assert resume in said and "error" not in said, said
    else:  # SIGKILL leaves no goodbye: the next look at the jobs finds the process gone
        assert job.state == "failed" and "the process running this job died" in job.error
        assert load_checkpoint(job.folder / "checkpoints" / LAST)["state"]["position"] > 0
    assert _lumos(home, "train", "--resume", job_id, threads=2).wait(600) == 0, _said(home)
    assert "threads: 1 (the checkpoint resumed from)" in (job.folder / "log.txt").read_text()
    assert [r["epoch"] for r in history(job.folder)] == [1, 2, 3, 4]
    assert _steps(job.folder) == _steps(home.jobs_dir / reference)
    final = _final_weights(home, job_id)
    for name, tensor in _final_weights(home, reference).items():
        assert torch.equal(tensor, final[name]), name
    assert open_job(home, job_id).state == "done"


def test_resume_with_more_epochs_extends_a_finished_run(home: Workspace) -> None:
    job = train(lenet(epochs=2), workspace=home, progress=False)
    train(resume=job.id, epochs=3, workspace=home, progress=False)
    assert [r["epoch"] for r in history(job.folder)] == [1, 2, 3]
    assert Recipe.load(job.folder / "recipe.yaml").epochs == 3


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(home: Workspace) -> None:
    job = train(lenet(epochs=1), workspace=home, progress=False)
    recipe = Recipe.load(job.folder / "recipe.yaml")
    recipe.lr, recipe.lr_policy, recipe.momentum = 1e12, "fixed", 0.0
    (job.folder / "recipe.yaml").write_text(recipe.to_yaml())
    with pytest.raises(
        TrainError, match=r"loss became (nan|inf) at epoch 2.*last good checkpoint is kept"
    ):
        train(resume=job.id, epochs=3, workspace=home, progress=False)
    assert open_job(home, job.id).state == "failed"
    assert load_checkpoint(job.folder / "checkpoints" / LAST)["state"]["epoch"] == 1


def test_disk_full_while_checkpointing_keeps_the_previous_one(
    home: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save
    calls = {"n": 0}

    def save(obj: object, path: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            Path(path).write_bytes(b"partial")
            raise OSError(28, "No space left on device")
        real_save(obj, path)

    monkeypatch.setattr(checkpoint_module.torch, "save", save)
    with pytest.raises(CheckpointError, match="No space left on device.*the previous one is kept"):
        train(lenet(epochs=3), workspace=home, progress=False)
    job_id = _newest_job(home)
    assert open_job(home, job_id).state == "failed"
    folder = home.jobs_dir / job_id / "checkpoints"
    assert load_checkpoint(folder / LAST)["state"]["epoch"] == 1
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("values", "saved"),
    [
        ({}, [(1, 0)]),  # the default: every 10 minutes, and at the end of each epoch
        ({"checkpoint_steps": 2}, [(0, 2), (0, 4), (1, 0)]),
        ({"checkpoint_minutes": 1e-9}, [(0, p) for p in range(1, 6)] + [(1, 0)]),
        ({"checkpoint_steps": 2, "accumulate": 2}, [(0, 4), (1, 0)]),
    ],
)
def test_checkpoints_inside_an_epoch_by_steps_and_by_time(
    home: Workspace, monkeypatch: pytest.MonkeyPatch, values: dict, saved: list
) -> None:
    """(epoch, batch) of every checkpoint of a one-epoch run of 6 batches."""
    seen = []
    real_save = checkpoint_module.save_checkpoint

    def save(path: Path, payload: dict) -> None:
        seen.append((payload["state"]["epoch"], payload["state"]["position"]))
        real_save(path, payload)

    monkeypatch.setattr("lumos.train.callbacks.save_checkpoint", save)
    batch_size = math.ceil(len(Dataset.open("digits", home).split("train")) / 6)
    train(lenet(epochs=1, batch_size=batch_size, **values), workspace=home, progress=False)
    assert seen == saved


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"batch_size": 5000},
            "batch_size 5000 is larger than the 450 training records of 'digits': use at most 450",
        ),
        (
            {"dataset": "shapes"},
            "dataset 'shapes' has no class labels; train a detector",
        ),
        ({"dataset": "nothing"}, "no dataset named 'nothing'"),
        ({"network": "resnet9000"}, "unknown network 'resnet9000'"),
    ],
)
def test_training_refuses_what_cannot_work(home: Workspace, values: dict, message: str) -> None:
    with pytest.raises(Exception, match=message):
        train(lenet(**values), workspace=home, progress=False)


def test_empty_validation_split(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    import_dataset(
        "sample:digits",
        "noval",
        workspace=workspace,
        val_percent=0,
        test_percent=0,
        max_per_class=5,
    )
    with pytest.raises(TrainError, match="has no validation records: re-import it with --val 15"):
        train(lenet(dataset="noval", batch_size=8), workspace=workspace, progress=False)


@pytest.mark.parametrize(
    "values",
    [
        {"ema": 0.9},
        {"mixup": 0.4, "cutmix": 1.0},
        {"balance": "sampler"},
        {"balance": "weights", "label_smoothing": 0.1},
        {"accumulate": 3, "optimizer": "adamw", "lr": 0.003},
        {"optimizer": "rmsprop", "lr": 0.001, "lr_policy": "onecycle"},
        {"normalize": "mean-image", "input_size": (32, 32)},
        {"invert": 0.3, "epochs": 3},
        {"precision": "bf16", "epochs": 1},
        {"lr_policy": "plateau", "metric": "val_loss", "early_stopping": 1},
        {"network": "resnet18", "epochs": 1, "channels_last": True, "input_size": (12, 12)},
    ],
)
def test_recipe_options_train(home: Workspace, values: dict) -> None:
    """Every option learns digits in its epochs: 0.52-0.84 val accuracy measured (chance is
    0.1) in fp32 on AVX2 and AVX-512 and with bf16 autocast; 0.45 leaves room for any."""
    job = train(lenet(**{"epochs": 2, **values}), workspace=home, progress=False)
    epochs = history(job.folder)
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in epochs)
    assert epochs[-1]["val_accuracy"] >= 0.45


def test_early_stopping(home: Workspace) -> None:
    job = train(
        lenet(epochs=6, lr=1e-9, early_stopping=1, metric="val_loss"),
        workspace=home,
        progress=False,
    )
    assert 2 <= len(history(job.folder)) < 6


def test_a_time_limit_ends_the_run_within_a_step_and_the_schedule_follows(
    home: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step takes 1 s of a stand-in clock (validation none): 0.9 minutes fit 54 steps
    of the 15,000 asked for (1000 epochs of 15): three epochs and 9 steps of a fourth, which
    closes there, validated and checkpointed; the cosine schedule ends at step 54."""
    import lumos.train.callbacks as callbacks

    steps = {"n": 0}
    original = callbacks.TimeLimit.after_batch

    def counted(self, trainer):
        steps["n"] = trainer.state.step
        return original(self, trainer)

    monkeypatch.setattr(callbacks.TimeLimit, "after_batch", counted)
    clock = SimpleNamespace(monotonic=lambda: float(steps["n"]), perf_counter=time.perf_counter)
    monkeypatch.setattr(callbacks, "time", clock)  # this module's clock only
    job = train(
        lenet(epochs=1000, time_limit=0.9, lr_policy="cosine", warmup_epochs=0),
        workspace=home,
        progress=False,
    )
    epochs = history(job.folder)
    assert len(epochs) == 4 and epochs[-1]["step"] == 54 and "val_accuracy" in epochs[-1]
    assert epochs[-1]["lr"] < 0.05 * 0.01 < 0.05 * 0.5 < epochs[0]["lr"]
    assert load_checkpoint(job.folder / "checkpoints" / LAST)["state"]["step"] == 54
    log = (job.folder / "log.txt").read_text()
    assert "time limit: 0.9 minutes reached after 3.60 epochs (step 54 of 15000" in log


def test_a_time_limit_shorter_than_an_epoch_is_a_limit(home: Workspace) -> None:
    """On the real clock: 0.6 s of a ResNet-18 whose epoch is 113 steps (longer than that on
    any CPU) ends inside the first epoch, which closes there with its checkpoint."""
    recipe = lenet(network="resnet18", input_size=(64, 64), batch_size=4, epochs=50,
                   time_limit=0.01)  # fmt: skip
    job = train(recipe, workspace=home, progress=False)
    [epoch] = history(job.folder)
    assert 0 < epoch["step"] < 113 and "val_accuracy" in epoch
    assert load_checkpoint(job.folder / "checkpoints" / LAST)["state"]["step"] == epoch["step"]
    assert "time limit: 0.01 minutes reached after 0." in (job.folder / "log.txt").read_text()


def test_multi_label_training(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    colour_labels(tmp_path / "src", workspace, 60, val_percent=30, test_percent=0)
    recipe = colours_recipe()
    job = train(recipe, workspace=workspace, progress=False)
    assert history(job.folder)[-1]["val_f1"] > 0.9


def test_cli_train_and_its_mistakes(
    home: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(lenet(epochs=1).to_yaml())
    code, out, err = run_cli(
        monkeypatch, capsys, "train", str(recipe_file), "epochs=2", "batch_size=64"
    )
    assert code == 0, err
    job_id = out.split()[1].rstrip(":")
    assert len(history(home.jobs_dir / job_id)) == 2
    code, _, err = run_cli(monkeypatch, capsys, "train", "dataset=digits", "epoch=3")
    assert code == 2 and err.strip() == "lumos: error: command line: unknown key 'epoch'"
    code, _, err = run_cli(monkeypatch, capsys, "train", "dataset=digits", "batch_size=lots")
    assert code == 2 and "batch_size: Input should be a valid integer" in err
    code, _, err = run_cli(monkeypatch, capsys, "train", "--resume", "train-nope")
    assert code == 2 and "no job 'train-nope'" in err


def test_lr_find(
    home: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from lumos.train.lr_find import lr_find

    finding = lr_find(lenet(), tmp_path / "lr", steps=60, workspace=home)
    assert 1e-7 <= finding.suggestion <= 10 and len(finding.rates) == len(finding.losses) >= 5
    assert finding.rates == sorted(finding.rates)
    assert all(p.stat().st_size > 0 for p in finding.files)
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        "lr-find",
        "dataset=digits",
        "network=lenet5",
        "--steps",
        "20",
        "--out",
        str(tmp_path / "cli"),
    )
    assert code == 0 and "suggested lr" in out and (tmp_path / "cli" / "lr_find.png").is_file()
    with pytest.raises(TrainError, match="0 < start < end"):
        lr_find(lenet(), tmp_path / "x", start=1.0, end=0.1, workspace=home)


def test_network_that_does_not_fit(home: Workspace, tmp_path: Path) -> None:
    net = tmp_path / "net.yaml"
    net.write_text("layers:\n  - conv: {out: 4, kernel: 40}\n  - flatten\n  - linear: classes\n")
    jobs = len(list_jobs(home))
    with pytest.raises(
        Exception, match=r"layer 1 \(conv\) does not fit its input of shape \[1, 28, 28\]"
    ):
        train(lenet(network=str(net)), workspace=home, progress=False)
    assert len(list_jobs(home)) == jobs  # refused before a job was made


def test_tensorboard_gets_every_epoch_or_its_absence_is_named(
    home: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read back by TensorBoard's own reader (a test dependency); without the package, the
    run fails saying what to install."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    job = train(lenet(epochs=2, tensorboard=True), workspace=home, progress=False)
    events = EventAccumulator(str(job.folder / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("val_accuracy")] == [1, 2]
    assert events.Scalars("val_accuracy")[-1].value == pytest.approx(
        history(job.folder)[-1]["val_accuracy"]
    )
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    with pytest.raises(Exception, match="tensorboard: true needs the tensorboard package"):
        train(lenet(tensorboard=True), workspace=home, progress=False)
    assert list_jobs(home)[0]["state"] == "failed"


def test_jobs_cli(
    home: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    code, out, _ = run_cli(monkeypatch, capsys, "jobs", "--json")
    rows = json.loads(out)
    assert code == 0 and rows and {"id", "kind", "state"} <= set(rows[0])


def test_unet_learns_to_segment(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    import_squares(tmp_path / "src", workspace, test_percent=0)
    recipe = squares_recipe()
    job = train(recipe, workspace=workspace, progress=False)
    epochs = history(job.folder)
    assert epochs[-1]["val_miou"] > 0.7 and epochs[-1]["val_accuracy"] > 0.9


def test_segmentation_mistakes(home: Workspace, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="unet segments images, but dataset 'digits' has no masks"):
        train(lenet(network="unet"), workspace=home, progress=False)
    with pytest.raises(TrainError, match=r"or a segmenter \(e.g. network=unet\)"):
        train(lenet(dataset="shapes"), workspace=home, progress=False)


def test_a_run_normalises_as_its_network_declares_unless_the_recipe_says(
    home: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = replace(REGISTRY["lenet5"], name="raw-lenet", default_normalize="none")
    monkeypatch.setitem(REGISTRY, "raw-lenet", raw)
    digits = Dataset.open("digits", home)
    declared = Trainer(lenet(network="raw-lenet"), digits, workspace=home).model.normalize
    assert declared.mean.flatten().tolist() == [0.0] and declared.std.flatten().tolist() == [1.0]
    chosen = Trainer(lenet(network="raw-lenet", normalize="per-channel"), digits).model.normalize
    assert chosen.std.flatten().tolist() == pytest.approx(digits.std, rel=1e-6)
    assert normalization(lenet()) == "per-channel" and lenet().normalize is None


def test_init_takes_the_heads_rows_by_class_name(tmp_path: Path) -> None:
    """A source scoring red, green, yellow starting a blue/green/red run: its red and green
    rows go to those classes (not to the rows of the same number), blue starts fresh."""
    workspace = Workspace(tmp_path / "ws").ensure()
    import_dataset(colour_folders(tmp_path / "colours"), "colours", workspace=workspace)
    data = Dataset.open("colours", workspace)
    assert data.classes == ["blue", "green", "red"]
    spec = NetworkSpec.resolve("lenet5", 3, 3, data.size)
    source = normalized_model(build_network(spec), identity(3))
    head = [m for m in source.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        head.weight.copy_(torch.arange(1.0, 4.0)[:, None].expand_as(head.weight))
        head.bias.copy_(torch.arange(1.0, 4.0))
    meta = {
        "task": "classification",
        "network": spec.model_dump(mode="json"),
        "labels": ["red", "green", "yellow"],
        "preprocessing": {"size": data.size, "input_size": data.size, "channels": 3},
    }
    save_bundle("source", meta=meta, weights=source.state_dict(), workspace=workspace)
    recipe = Recipe(dataset="colours", network="lenet5", init="source", batch_size=4)
    trainer = Trainer(recipe, data, workspace=workspace)
    bias = [m for m in trainer.model.modules() if isinstance(m, torch.nn.Linear)][-1].bias
    assert bias[2].item() == 1.0 and bias[1].item() == 2.0  # red, green: by name
    assert bias[0].item() not in (1.0, 2.0, 3.0)  # blue: new, not yellow's row
    taken = trainer.initialised
    assert taken is not None and (taken.head_classes, taken.head_size) == (2, 3)
    assert taken.copied >= 8  # the body: every convolution and hidden layer
