"""`lumos sweep`: Optuna studies of training jobs, shared by workers through a database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from helpers import run_cli
from lumos.jobs import open_job
from lumos.recipe import Recipe
from lumos.sweep import SweepError, create_sweep, open_sweep, work_on
from lumos.sweep.report import rows, write_report
from lumos.workspace import Workspace

BASE = ["dataset=digits", "network=lenet5", "epochs=2", "batch_size=32", "workers=0",
        "precision=fp32", "threads=1", "checkpoint_minutes=0"]  # fmt: skip


def test_a_sweep_runs_its_trials_as_jobs_prunes_and_reports(
    digits: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "sweep", *BASE, "epochs=4", "--param",
                             "lr=log:1e-4:0.3", "--param", "batch_size=16,32", "--trials", "6",
                             "--sampler", "random", "--prune", "median", "--seed", "1",
                             "--name", "lr-search", "--json")  # fmt: skip
    assert code == 0, err
    answer = json.loads(out[out.index("{") :])
    trials = answer["trials"]
    assert [t["number"] for t in trials] == list(range(6))
    assert {t["state"] for t in trials} <= {"complete", "pruned"}
    assert len({t["job"] for t in trials}) == 6
    for t in trials:
        job = open_job(digits, t["job"])
        assert job.state == "done" and job.params["lr"] == t["params"]["lr"]
        assert t["epochs"] == (4 if t["state"] == "complete" else t["epochs"])
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned and all(t["epochs"] < 4 for t in pruned)
    for t in pruned:
        assert "pruned by sweep lr-search" in (digits.jobs_dir / t["job"] / "log.txt").read_text()
    best = answer["best"]
    assert best["value"] == max(t["value"] for t in trials if t["state"] == "complete")
    folder = digits.root / "sweeps" / "lr-search"
    saved = Recipe.load(folder / "best.yaml")
    assert saved.lr == best["params"]["lr"] and saved.batch_size == best["params"]["batch_size"]
    assert (folder / "trials.csv").read_text().count("\n") == 7
    for picture in ("importance.png", "parallel.png"):
        assert (folder / picture).read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run_cli(monkeypatch, capsys, "sweep", "--show", "lr-search")
    assert code == 0 and "best: trial" in out and "lr-search" in out


@pytest.mark.parametrize(
    ("params", "options", "message"),
    [
        (["lr=log:0:1"], [], "a log range must start above 0"),
        (["lr=0.5:0.1"], [], "from a lower to a higher number"),
        (["lr=a:b"], [], "the range's ends must be numbers"),
        (["epochs=int:1.5:4"], [], "an int range's ends must be whole numbers"),
        (["batch_size=0,32"], [], "batch_size=0,32': 0 is no good"),
        (["optimizer=sgd,nadam"], [], "'nadam' is no good"),
        (["colour=1,2"], [], "'colour' is not a recipe field"),
        (["dataset=a,b"], [], "'dataset' is not a recipe field"),
        (["lr=0.1"], [], "list two or more different values"),
        (["lr"], [], "write NAME=SPEC"),
        (["lr=1e-3:1e-1"], ["--sampler", "grid"], "grid needs listed values"),
        (["lr=1e-3:1e-1", "lr=0.1,0.2"], [], "each --param names a different"),
        ([], [], "give at least one --param"),
        (["lr=1e-3:1e-1"], ["--sampler", "bayes"], "--sampler is one of tpe, random, grid"),
        (["lr=1e-3:1e-1"], ["--storage", "postgresql+psycopg2://lumos:secret@127.0.0.1:9/x"],
         "cannot reach storage postgresql+psycopg2://lumos:***@127.0.0.1:9/x"),
        (["lr=1e-3:1e-1"], ["--storage", "nosuchdb://x"],
         "storage nosuchdb://x: Can't load plugin"),
        (["lr=1e-3:1e-1"], ["--name", "../x"], "invalid sweep name"),
    ],
)  # fmt: skip
def test_a_bad_sweep_is_refused_in_one_line_and_nothing_is_stored(
    digits: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    params: list[str],
    options: list[str],
    message: str,
) -> None:
    flags = [arg for p in params for arg in ("--param", p)]
    named = [] if "--name" in options else ["--name", "bad"]
    code, _, err = run_cli(monkeypatch, capsys, "sweep", *BASE, *flags, *options, *named)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert "secret" not in err
    assert not list(digits.jobs_dir.glob("train-*"))
    if (digits.root / "sweeps.db").exists():
        assert optuna.get_all_study_names(f"sqlite:///{digits.root / 'sweeps.db'}") == []


def test_joining_what_is_not_there_and_a_name_taken(
    digits: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "sweep", "--join", "ghost")
    assert code == 2 and "no sweep named 'ghost'" in err
    create_sweep(Recipe.from_settings(BASE), ["lr=0.01,0.1"], name="taken", trials=2,
                 workspace=digits)  # fmt: skip
    with pytest.raises(SweepError, match="already in .*join it with --join"):
        create_sweep(Recipe.from_settings(BASE), ["lr=0.01,0.1"], name="taken", trials=2,
                     workspace=digits)  # fmt: skip


def _join(name: str, home: Path, storage: str | None) -> subprocess.Popen:
    command = [sys.executable, "-c", "from lumos.cli import main; main()", "sweep", "--join", name]
    command += ["--storage", storage] if storage else []
    env = os.environ | {"LUMOS_HOME": str(home)}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def _shared_by_two_workers(workspace: Workspace, storage: str | None, trials: int) -> None:
    """Two workers join one sweep at once: between them every trial runs exactly once (how
    many each takes is the scheduler's business)."""
    sweep = create_sweep(Recipe.from_settings([*BASE, "epochs=1"]), ["lr=log:1e-3:0.3"],
                         name="shared", trials=trials, sampler="random", storage=storage,
                         workspace=workspace)  # fmt: skip
    workers = [_join("shared", workspace.root, storage) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    ran = [int(out.split("this worker ran ")[1].split()[0]) for out, _ in outputs]
    assert sum(ran) == trials, ran
    found = rows(sweep)
    assert [r.number for r in found] == list(range(trials))
    assert all(r.state == "complete" for r in found)
    jobs = {r.job for r in found}
    assert len(jobs) == trials and all(open_job(workspace, j).state == "done" for j in jobs)  # type: ignore[arg-type]
    assert len({r.params["lr"] for r in found}) == trials
    assert write_report(open_sweep("shared", storage, workspace), workspace)


def test_two_workers_share_one_sqlite_study_without_duplicates(digits: Workspace) -> None:
    _shared_by_two_workers(digits, None, trials=6)


def test_a_study_in_postgresql_is_shared_too(digits: Workspace, postgres_url: str) -> None:
    _shared_by_two_workers(digits, postgres_url, trials=4)
    assert work_on(open_sweep("shared", postgres_url, digits), digits) == 0  # all done
