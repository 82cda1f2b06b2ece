"""The GPU catalogue, epoch time and cost: `lumos plan --gpu` and `--compare`."""

from __future__ import annotations

import json
import math

import pytest

from helpers import run_cli
from lumos.plan import Planner, workload
from lumos.plan import timing as timing_module
from lumos.plan.hardware import CatalogueError, catalogue, device
from lumos.plan.timing import RESERVED, efficiency
from lumos.workspace import Workspace

SEEDS = ["gtx-1080-ti", "titan-x-pascal", "titan-xp", "titan-v", "titan-rtx", "quadro-p6000",
         "quadro-rtx-8000", "tesla-k80", "tesla-p100", "tesla-v100", "t4", "jetson-tx2",
         "jetson-agx-xavier"]  # fmt: skip
TODAY = ["a100-40gb", "a100-80gb", "h100-80gb", "h200", "l4", "rtx-4090"]


def test_the_catalogue_holds_the_seeds_gpus_and_todays_with_their_sources() -> None:
    devices = catalogue()
    assert set(SEEDS + TODAY) <= set(devices)
    for gpu in devices.values():
        assert gpu.memory_gb > 0 and gpu.tflops.fp32 > 0 and gpu.watts > 0 and gpu.source
    a100 = device("A100-40GB")
    assert a100.throughput("bf16") == (312e12, "bf16")
    assert a100.throughput("fp32") == (156e12, "tf32")  # cuDNN's TF32 convolutions
    assert device("gtx-1080-ti").throughput("fp16") == (11.3e12, "fp32")  # no fast fp16
    assert device("t4").usd_per_hour == 0.35 and device("h200").usd_per_hour is None


def test_a_workspace_catalogue_adds_and_replaces_devices(workspace: Workspace) -> None:
    workspace.ensure()
    (workspace.root / "gpus.yaml").write_text(
        "my-card: {name: Lab card, memory_gb: 6, tflops: {fp32: 5}, watts: 120, "
        "usd_per_hour: 0.1, source: our invoice}\n"
        "t4: {name: T4 at our price, memory_gb: 16, tflops: {fp32: 8.1, fp16: 65}, watts: 70, "
        "usd_per_hour: 0.2, source: our contract}\n"
    )
    devices = catalogue(workspace.root)
    assert devices["my-card"].memory == 6_000_000_000 and devices["t4"].usd_per_hour == 0.2
    assert "a100-40gb" in devices


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t4: [1, 2", "not YAML"),
        ("- a\n- b\n", "expected devices by key, found list"),
        ("x: {name: X, memory_gb: -1, tflops: {fp32: 1}, watts: 1, source: s}", "memory_gb"),
        ("x: {name: X, memory_gb: 8, watts: 1, source: s}", "device 'x': tflops: Field required"),
        ("x: just text", "device 'x'"),
        ("x: {name: X, memory_gb: 8, tflops: {fp32: 1}, watts: 1, source: s, gflops: 3}",
         "gflops: Extra inputs"),
    ],
)  # fmt: skip
def test_a_bad_workspace_catalogue_is_named_in_one_line(
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    text: str,
    message: str,
) -> None:
    workspace.ensure()
    (workspace.root / "gpus.yaml").write_text(text)
    with pytest.raises(CatalogueError, match="gpus.yaml"):
        catalogue(workspace.root)
    code, _, err = run_cli(monkeypatch, capsys, "plan", "lenet5", "--gpu", "t4")
    assert code == 2 and message in err and "gpus.yaml" in err and "Traceback" not in err, err


def test_epoch_time_and_cost_on_one_gpu_and_the_whole_catalogue_ranked(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    workspace.ensure()
    code, out, err = run_cli(monkeypatch, capsys, "plan", "lenet5", "--batch", "64", "--gpu",
                             "t4", "--images", "60000", "--epochs", "5", "--json")  # fmt: skip
    assert code == 0, err
    answer = json.loads(out)
    [run], share = answer["devices"], answer["efficiency"]
    assert 0 < share["share"] <= 1 and share["flops_per_image"] > 0
    planner = Planner(workload("lenet5", (1, 32, 32)))
    assert run["largest_batch"] == planner.largest_batch(16_000_000_000 - RESERVED)
    peak = 8.1e12  # fp32, no TF32 on a T4
    compute = 60000 * share["flops_per_image"] / (peak * share["share"])
    overhead = math.ceil(60000 / 64) * share["step_seconds"]  # a step's fixed cost, measured
    assert share["step_seconds"] > 0 and run["overhead_seconds"] == pytest.approx(overhead)
    assert run["compute_seconds"] == pytest.approx(compute) and run["loading_seconds"] is None
    epoch = compute + overhead  # no dataset: nothing to load or validate
    assert run["epoch_seconds"] == pytest.approx(epoch)
    assert run["usd_per_run"] == pytest.approx(0.35 * 5 * epoch / 3600)
    assert run["kwh_per_run"] == pytest.approx(70 * 5 * epoch / 3600 / 1000)
    code, out, err = run_cli(monkeypatch, capsys, "plan", "lenet5", "--batch", "64",
                             "--compare", "--json")  # fmt: skip
    assert code == 0, err
    runs = json.loads(out)["devices"]
    assert {r["device"] for r in runs} == set(catalogue())
    times = [r["epoch_seconds"] for r in runs]
    assert times == sorted(times) and {r["device"] for r in runs[:2]} == {"h100-80gb", "h200"}
    costs = sorted((r["cost_rank"], r["usd_per_run"]) for r in runs if r["cost_rank"])
    assert [c for _, c in costs] == sorted(c for _, c in costs) and costs[0][0] == 1
    assert costs[0][1] == min(r["usd_per_run"] for r in runs if r["usd_per_run"] is not None)
    code, out, err = run_cli(monkeypatch, capsys, "plan", "lenet5", "--compare")
    assert code == 0 and "share of peak this network's training reached on this CPU" in out


def test_the_efficiency_is_measured_once_and_a_damaged_record_again(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = workspace.root / "plan" / "efficiency.json"
    work = workload("lenet5", (1, 32, 32))
    first = efficiency(work, cache)
    assert cache.is_file() and first.images_per_second > 0
    # LeNet-5's multiply-adds a 32x32 image: convolutions 6x28x28x25 and 16x10x10x150, then
    # 400x120, 120x84 and 84x10; forward once, backward twice but for the first layer's
    # input gradient (the image needs none); two FLOPs a multiply-add.
    forward = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert first.flops_per_image == 2 * (3 * forward - 6 * 28 * 28 * 25)

    def no_timing(*_: object) -> float:
        raise AssertionError("measured again")

    monkeypatch.setattr(timing_module, "_timed", no_timing)
    assert efficiency(work, cache) == first
    cache.write_text("{not json")
    with pytest.raises(AssertionError, match="measured again"):
        efficiency(work, cache)


def test_a_network_whose_last_map_is_one_pixel_is_priced(tmp_path) -> None:
    """ResNet-10-T at 32x32 ends on a 1x1 map, where batch norm cannot train on one image:
    the planner counts and times steps of two and more."""
    work = workload("timm:resnet10t", (3, 32, 32), num_classes=4)
    measured = efficiency(work, tmp_path / "efficiency.json")
    assert measured.flops_per_image > 0 and measured.images_per_second > 0
