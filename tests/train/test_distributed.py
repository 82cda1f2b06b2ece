"""Training on several processes with torchrun (gloo on this CPU): the same run as on one
process, exact resume after a process is killed, two "machines" meeting on loopback, and
what is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import reserved_ports, run_cli
from lumos.jobs import open_job
from lumos.recipe import Recipe
from lumos.threads import cores
from lumos.train import train
from lumos.train.callbacks import LAST, read_metrics
from lumos.train.checkpoints import load_checkpoint
from lumos.train.run import queue_training
from lumos.worker import run_job
from lumos.workspace import Workspace

SETTINGS = ["dataset=digits", "network=lenet5", "batch_size=32", "lr=0.05", "precision=fp32",
            "workers=0", "threads=1", "checkpoint_minutes=0"]  # fmt: skip


def _recipe(*extra: str) -> Recipe:
    return Recipe.from_settings([*SETTINGS, *extra])


def _train_jobs(home: Path) -> list[Path]:
    return sorted(j for j in (home / "jobs").glob("train-*"))


def _epochs(job_folder: Path) -> list[dict]:
    return [r for r in read_metrics(job_folder / "metrics.jsonl") if r["kind"] == "epoch"]


def _weights(job_folder: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(job_folder / "checkpoints" / LAST)["model"]


def test_two_processes_train_as_one_with_the_same_global_batch(digits: Workspace) -> None:
    alone = train(_recipe("epochs=3"), workspace=digits, progress=False)
    # The job runner's way: a queued job whose recipe asks for two processes.
    queued = queue_training(_recipe("epochs=3", "nproc=2"), digits)
    assert run_job(digits, queued.id) == 0
    pair = open_job(digits, queued.id)
    assert pair.state == "done", pair.error
    one, two = _epochs(alone.folder), _epochs(pair.folder)
    assert len(one) == len(two) == 3
    for a, b in zip(one, two, strict=True):  # the order of float sums differs, nothing else
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), (key, a, b)
    for name, tensor in _weights(alone.folder).items():
        assert torch.allclose(_weights(pair.folder)[name], tensor, atol=1e-4), name


def _lumos(*args: str, home: Path) -> subprocess.Popen:
    env = os.environ | {"LUMOS_HOME": str(home)}
    command = [str(Path(sys.executable).parent / "lumos"), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def _workers(home: Path) -> dict[int, int]:
    """pid by rank of this workspace's training processes."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        variables = dict(e.partition(b"=")[::2] for e in environ)
        ours = b"lumos.train.process" in command and str(home).encode() in command
        if ours and b"RANK" in variables:  # a worker, not torchrun itself
            found[int(variables[b"RANK"])] = int(entry.name)
    return found


def test_a_killed_process_ends_the_run_and_resume_continues_it_exactly(
    digits: Workspace,
) -> None:
    home = digits.root
    reference = train(_recipe("epochs=12", "nproc=2", "checkpoint_steps=3"), workspace=digits,
                      progress=False)  # fmt: skip
    running = _lumos("train", *SETTINGS, "epochs=12", "checkpoint_steps=3", "--nproc", "2",
                     home=home)  # fmt: skip
    deadline = time.monotonic() + 600
    job = None
    while time.monotonic() < deadline:
        jobs = [j for j in _train_jobs(home) if j.name != reference.folder.name]
        job = jobs[0] if jobs else None
        if job and len(_epochs(job)) >= 2 and len(_workers(home)) == 2:
            break
        time.sleep(0.2)
    assert job is not None, running.communicate()
    os.kill(_workers(home)[1], signal.SIGKILL)
    _, err = running.communicate(timeout=600)
    assert running.returncode == 2 and "Traceback" not in err, err
    assert "lumos: error: training process 1 was killed by signal 9 (SIGKILL)" in err
    killed = open_job(digits, job.name)
    assert killed.state == "failed" and f"lumos train --resume {job.name}" in killed.error
    assert "ChildFailedError" in (job / "processes.txt").read_text()
    assert not _workers(home)  # nothing left running
    resumed = train(resume=job.name, workspace=digits, progress=False)
    assert resumed.state == "done"
    epochs = _epochs(resumed.folder)
    assert [e["epoch"] for e in epochs] == list(range(1, 13))
    for name, tensor in _weights(reference.folder).items():
        assert torch.equal(_weights(resumed.folder)[name], tensor), name


def test_two_machines_meet_at_a_rendezvous_on_loopback(digits: Workspace) -> None:
    with reserved_ports(1) as [port]:  # held until the rendezvous is over
        meeting = ["--nproc", "1", "--nnodes", "2", "--rdzv", f"127.0.0.1:{port}"]
        first = _lumos("train", *SETTINGS, "epochs=2", *meeting, "--node-rank", "0",
                       home=digits.root)  # fmt: skip
        second = _lumos("train", *SETTINGS, *meeting, "--node-rank", "1", home=digits.root)
        out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err
        _, err = second.communicate(timeout=600)
        assert second.returncode == 0, err
    [job] = _train_jobs(digits.root)
    assert open_job(digits, job.name).state == "done" and f"job {job.name}: done" in out
    assert len(_epochs(job)) == 2 and _epochs(job)[-1]["val_accuracy"] > 0.5


def test_a_rendezvous_that_never_completes_times_out(digits: Workspace) -> None:
    with reserved_ports(1) as [port]:
        alone = ["--nproc", "1", "--nnodes", "2", "--rdzv", f"127.0.0.1:{port}"]
        lone = _lumos("train", *SETTINGS, *alone, "--rdzv-timeout", "3", home=digits.root)
        _, err = lone.communicate(timeout=600)
    assert lone.returncode == 2
    assert "did not complete in 3 s: fewer than 2 machines joined" in err, err
    [job] = _train_jobs(digits.root)
    assert open_job(digits, job.name).state == "failed" and not _workers(digits.root)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nproc", str(cores() + 1)], f"--nproc {cores() + 1} is more than this machine's"),
        (["--nproc", "1", "--nnodes", "2"], "--nnodes above 1 needs --rdzv HOST:PORT"),
        (["--nproc", "1", "--nnodes", "2", "--rdzv", "no port"], "needs --rdzv HOST:PORT"),
        (["--nproc", "1", "--nnodes", "2", "--node-rank", "2", "--rdzv", "h:1"],
         "--node-rank 2 is not one of 0..1"),
        (["--nproc", "0"], "--nproc"),
        (["nproc=40"], "batch_size 32 cannot give 40 processes an image each"),
        (["nproc=2", "unfreeze_every=1"], "unfreeze_every does not work with nproc > 1"),
    ],
)  # fmt: skip
def test_what_cannot_start_is_refused_in_one_line(
    digits: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    args: list[str],
    message: str,
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "train", *SETTINGS, "epochs=1", *args)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not _train_jobs(digits.root)  # refused before any job exists
