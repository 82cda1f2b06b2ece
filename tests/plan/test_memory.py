"""`lumos plan`: the memory a network needs, traced on fake tensors, against real steps."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from helpers import lenet_workspace, run_cli
from lumos.bundle import Bundle
from lumos.models.zoo import list_models
from lumos.plan import Planner, estimate, kernels, workload
from lumos.plan.measure import training_peak
from lumos.plan.trace import trace_real
from lumos.tasks import task_of


@pytest.mark.parametrize(
    ("network", "shape", "batch", "optimizer", "precision"),
    [
        ("resnet18", (3, 32, 32), 8, "adamw", "fp32"),
        ("resnet18", (3, 32, 32), 2, "sgd", "bf16"),  # emulated bf16 is slow on AVX2
        ("unet", (3, 32, 32), 4, "adam", "fp32"),
        ("mobilenet_v3_small", (3, 64, 64), 4, "sgd", "fp32"),
    ],
)
def test_the_fake_trace_is_the_real_steps_and_near_the_allocators_peak(
    network: str, shape: tuple[int, int, int], batch: int, optimizer: str, precision: str
) -> None:
    work = workload(network, shape, optimizer=optimizer, precision=precision)
    plan = Planner(work).plan(batch)
    real = trace_real(work, batch)
    # The same operators on real tensors hold the same bytes (bf16 casts may differ a little).
    assert real.training == pytest.approx(plan.training, rel=0.01)
    assert real.activations == pytest.approx(plan.activations, rel=0.01)
    moments = plan.parameters * 4 * (1 if optimizer == "sgd" else 2)  # Adam's step counts too
    assert plan.optimizer_state == pytest.approx(moments, rel=1e-4)
    assert plan.weights < plan.inference < plan.training
    # The kernels' own buffers, measured on this CPU, close the gap to the allocator's peak.
    assert training_peak(work, batch) == pytest.approx(plan.training, rel=0.03)


def test_a_detector_runs_a_real_step_at_the_batch_asked_and_grows_beyond() -> None:
    planner = Planner(workload("fcos_resnet18_fpn", (3, 128, 128), num_classes=3))
    four, eight = planner.plan(4), planner.plan(8)
    assert four.how == eight.how == "real step" and eight.training > four.training
    assert training_peak(planner.work, 8) == pytest.approx(eight.training, rel=0.03)
    planner._real_limit = 8  # beyond the largest real step: on the line through 4 and 8
    grown = planner.plan(16)
    assert grown.how == "grown from real steps"
    assert grown.training - eight.training == 2 * (eight.training - four.training)
    for plan in (grown, planner.plan(13)):  # figures rounded to a byte still add up
        assert plan.training == sum(plan.training_parts.values())
        assert plan.inference == plan.weights + plan.inputs + plan.inference_working


ZOO_INPUTS = {"detection": (3, 64, 64), "segmentation": (3, 32, 32)}


def _adds_up(network: str, batches: tuple[int, ...]) -> None:
    task = task_of(network)
    shape = (1, 32, 32) if network == "lenet5" else ZOO_INPUTS.get(task.name, (3, 32, 32))
    planner = Planner(workload(network, shape, num_classes=3))
    for batch in batches:
        plan = planner.plan(batch)
        parts = plan.training_parts
        assert plan.training == sum(parts.values()) and min(parts.values()) >= 0, parts
        assert parts["gradients"] <= plan.gradients and parts["activations"] <= plan.activations
        assert plan.inference == plan.weights + plan.inputs + plan.inference_working


@pytest.mark.parametrize("network", [entry.name for entry in list_models()])
def test_every_zoo_networks_plan_is_the_sum_of_its_parts(network: str) -> None:
    """The training peak is what was live then, part by part; inference is the weights, the
    batch and its working buffers: every network of the zoo, every task, every trace."""
    _adds_up(network, (2,))


@pytest.mark.parametrize("network", ["resnet18", "unet", "fcos_resnet18_fpn", "googlenet"])
def test_a_plan_adds_up_at_every_batch_size(network: str) -> None:
    """One network of each task and each way of tracing (fake tensors, real steps) at
    three batch sizes (every network at each would take the suite minutes)."""
    _adds_up(network, (3, 4, 9))


def test_a_one_channel_convolutions_own_buffers_are_counted_while_it_runs() -> None:
    """LeNet's first convolution reads one channel: its kernel lays the input out in columns
    of its own (im2col), which no operator returns; counted, the plan meets the allocator."""
    work = workload("lenet5", (1, 32, 32))
    plan, measured = Planner(work).plan(256), training_peak(work, 256)
    assert 0 <= plan.kernel_buffers <= plan.peak_working
    assert plan.training_least <= plan.training  # the buffers beyond 8 images: estimated
    assert 0.97 * plan.training_least <= measured <= 1.03 * plan.training
    assert measured == pytest.approx(plan.training, rel=0.03)  # im2col grows with the batch
    small = Planner(work).plan(8)
    assert small.training_least == small.training  # measured at the batch: no interval


def test_kernel_buffers_are_measured_at_the_batch_and_grown_beyond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    measured = []

    def stand_in(func: object, spec: tuple, batch: int) -> int:
        measured.append(batch)
        return 1000 + 100 * batch

    monkeypatch.setattr(kernels, "_measured", stand_in)
    assert kernels.kernel_buffers(None, (), 3) == (1300, 1300) and measured == [3]
    # Beyond 8 images: from what 8 took (weights' buffers) to the line through 4 and 8
    assert kernels.kernel_buffers(None, (), 64) == (1800, 1000 + 6400)
    assert measured[1:] == [kernels.MEASURED // 2, kernels.MEASURED]
    conv = torch.ops.aten.convolution.default
    images, weight = torch.zeros(5, 3, 8, 8), torch.zeros(4, 3, 3, 3)
    key = kernels.kernel_key(conv, [images, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1])
    assert key is not None and key[2] == 5  # the batch, apart from the shapes
    assert key[1][0] == kernels.TensorSpec((3, 8, 8), torch.float32, (0, 1, 2, 3))
    last = images.to(memory_format=torch.channels_last)  # its channels innermost
    later = kernels.kernel_key(conv, [last, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1])
    assert later is not None and later[1][0].order == (0, 2, 3, 1)
    made = kernels._real(conv, later[1], 2)[0]
    assert made.shape == (2, 3, 8, 8) and made.is_contiguous(memory_format=torch.channels_last)
    assert kernels.kernel_key(torch.ops.aten.relu.default, [images]) is None


def test_the_seeds_rule_of_thumb_and_the_largest_batch_that_fits() -> None:
    [plan] = estimate("lenet5", (1, 32, 32), [8])
    seeds = replace(plan, parameters=100_000_000, layer_values=10_000_000, batch=128,
                    input_shape=(1, 1000, 1000))  # fmt: skip
    assert seeds.rule_of_thumb[0] == 11_568_000_000  # the seeds' "≈ 11.5 GB"
    planner = Planner(workload("lenet5", (1, 32, 32)))
    memory = planner.plan(300).training + 1000
    fits = planner.largest_batch(memory)
    assert planner.plan(fits).training <= memory < planner.plan(fits + 1).training
    assert 295 <= fits <= 305
    assert planner.largest_batch(planner.plan(1).training - 1) == 0
    assert planner.largest_batch(10**15, limit=500) == 500
    [one, many] = estimate("lenet5", (1, 32, 32), [1, 64])
    assert many.activations > 32 * one.activations and many.weights == one.weights


def test_plan_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "plan", "lenet5", "--batch", "1,8",
                             "--memory", "1MB", "--json")  # fmt: skip
    assert code == 0, err
    answer = json.loads(out)
    assert [p["batch"] for p in answer["plans"]] == [1, 8]
    planner = Planner(workload("lenet5", (1, 32, 32)))
    assert answer["largest_batch"] == planner.largest_batch(1_000_000) > 0
    assert answer["plans"][1]["training"] == planner.plan(8).training
    code, out, _ = run_cli(monkeypatch, capsys, "plan", "lenet5", "--batch", "4", "--measure",
                           "--json")  # fmt: skip
    [measured] = json.loads(out)["plans"]
    assert code == 0 and measured["measured"] == pytest.approx(measured["training"], rel=0.03)
    assert 0 <= measured["kernel_buffers"] <= measured["training_parts"]["working"]
    code, out, _ = run_cli(monkeypatch, capsys, "plan", "lenet5", "--batch", "4,100000",
                           "--memory", "100MB")  # fmt: skip
    assert code == 0 and "seeds' rule of thumb" in out
    big = Planner(workload("lenet5", (1, 32, 32))).plan(100_000)
    assert (big.kernel_buffers > 0) == ("a convolution kernel's own, measured on this" in out)
    assert "batch 100000 does not fit in 100MB: the largest that does is" in out


def test_plan_refuses_bad_input_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for args, message in [
        (["nonet"], "unknown network or model 'nonet'"),
        (["../models/x"], "../models/x: no such bundle file or folder"),
        (["lenet5", "--batch", "0"], "use sizes of 1 or more"),
        (["lenet5", "--batch", "4,x"], "use sizes of 1 or more"),
        (["lenet5", "--batch", ""], "use sizes of 1 or more"),
        (["lenet5", "--memory", "lots"], "use an amount such as 16GB"),
        (["lenet5", "--memory", "16PB"], "use an amount such as 16GB"),
        (["lenet5", "--input", "3x0x0"], "must be positive"),
        (["lenet5", "--input", "big"], "use CHANNELSxHEIGHTxWIDTH"),
        (["lenet5", "--gpu", "gtx-9999"], "unknown GPU 'gtx-9999': the catalogue has gtx-1080-ti"),
        (["lenet5", "--images", "0", "--gpu", "t4"], "--images"),
    ]:
        code, _, err = run_cli(monkeypatch, capsys, "plan", *args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)


def test_plan_a_saved_model_at_its_own_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    workspace = lenet_workspace(tmp_path / "lenet")
    monkeypatch.setenv("LUMOS_HOME", str(workspace.root))
    code, out, err = run_cli(monkeypatch, capsys, "plan", "lenet", "--batch", "16", "--classes",
                             "3", "--json")  # fmt: skip
    assert code == 0, err
    [plan] = json.loads(out)["plans"]
    spec = Bundle.saved("lenet", workspace).spec
    assert plan["network"] == "lenet5" and plan["batch"] == 16
    assert plan["input_shape"] == [spec.in_channels, *spec.input_size]
    assert plan["parameters"] == Planner(workload(spec)).plan(1).parameters  # its 10 classes


def test_a_batch_the_network_cannot_train_at_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "plan", "deeplabv3_mobilenet_v3_large", "--input",
                           "3x32x32", "--batch", "1")  # fmt: skip
    assert code == 2 and "cannot train at batch 1 on 3x32x32 images" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
