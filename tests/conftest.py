"""Every test gets its own workspace in a temporary folder, and LUMOS_HOME pointing at it.

Where ``LUMOS_REQUIRE_PEERS=1`` (CI), a skip fails unless the machine withholds what the
test needs (tests/needs.py); the run ends saying which arithmetic this CPU took."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lumos.arithmetic import NATIVE_BF16_VARIABLE, choose, cpu_description
from lumos.workspace import Workspace
from needs import REQUIRE_PEERS, Withheld, peers_required

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One intra-op thread per test process: pytest -n 2 on 2 cores, not 2 x 2 threads.
    torch.set_num_threads(1)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    root = tmp_path / "workspace"
    monkeypatch.setenv("LUMOS_HOME", str(root))
    return Workspace(root).ensure()


@pytest.fixture
def digits(workspace: Workspace) -> Workspace:
    """The workspace with ``digits``: sklearn's digits, 30 images a class (300 records)."""
    from lumos.data import import_dataset

    import_dataset("sample:digits", "digits", workspace=workspace, max_per_class=30)
    return workspace


def _unexpected_skip(report: pytest.TestReport | pytest.CollectReport, excinfo) -> None:
    """Under LUMOS_REQUIRE_PEERS, ``report``'s skip becomes a failure saying why it ran not."""
    if not (report.skipped and peers_required()):
        return
    if excinfo is not None and excinfo.errisinstance(Withheld):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"{REQUIRE_PEERS}=1 and this did not run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    _unexpected_skip(outcome.get_result(), call.excinfo)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    _unexpected_skip(outcome.get_result(), None)


def pytest_terminal_summary(terminalreporter) -> None:
    model, _ = cpu_description()
    arithmetic = choose("auto", "cpu").describe().removeprefix("cpu ")
    forced = os.environ.get(NATIVE_BF16_VARIABLE)
    said = f" ({NATIVE_BF16_VARIABLE}={forced})" if forced else ""
    terminalreporter.write_sep(
        "-", f"arithmetic: precision auto trains in {arithmetic} on this CPU, {model}{said}"
    )
