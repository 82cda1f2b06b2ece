"""`lumos plan`: the memory a network needs, traced, and checked against a real step."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from helpers import run_cli
from lumos.plan import MemoryPlan, estimate, largest_batch
from lumos.plan.measure import training_peak


@pytest.mark.parametrize(
    ("network", "shape", "batch", "optimizer", "precision"),
    [
        ("lenet5", (1, 32, 32), 16, "sgd", "fp32"),
        ("resnet18", (3, 16, 16), 4, "adamw", "fp32"),
        ("resnet18", (3, 16, 16), 4, "sgd", "bf16"),
        ("unet", (3, 32, 32), 2, "adam", "fp32"),
    ],
)
def test_the_estimate_bounds_the_peak_of_a_real_training_step(
    network: str, shape: tuple[int, int, int], batch: int, optimizer: str, precision: str
) -> None:
    [plan] = estimate(network, shape, [batch], optimizer=optimizer, precision=precision)
    peak = training_peak(network, shape, batch, optimizer=optimizer, precision=precision)
    assert 0.7 * plan.training <= peak <= 1.05 * plan.training, (peak, plan)
    assert plan.optimizer_state == plan.weights * (1 if optimizer == "sgd" else 2)


def test_the_seeds_rule_of_thumb_and_the_largest_batch_that_fits() -> None:
    [plan] = estimate("lenet5", (1, 32, 32), [8])
    seeds = replace(plan, parameters=100_000_000, layer_values=10_000_000, batch=128,
                    input_shape=(1, 1000, 1000))  # fmt: skip
    assert seeds.rule_of_thumb[0] == 11_568_000_000  # the seeds' "≈ 11.5 GB"
    assert largest_batch(plan, plan.training) == 8
    assert largest_batch(plan, plan.training - 1) == 7
    assert largest_batch(plan, plan.weights) == 0
    [one, many] = estimate("lenet5", (1, 32, 32), [1, 64])
    assert many.activations > 32 * one.activations and many.weights == one.weights


def test_plan_from_the_command_line_and_what_it_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "plan", "lenet5", "--batch", "1,8",
                             "--memory", "1MB", "--json")  # fmt: skip
    assert code == 0, err
    answer = json.loads(out)
    assert [p["batch"] for p in answer["plans"]] == [1, 8]
    plans = [MemoryPlan(**{k: v for k, v in p.items() if k in MemoryPlan.__dataclass_fields__})
             for p in answer["plans"]]  # fmt: skip
    assert answer["largest_batch"] == largest_batch(plans[0], 1_000_000) > 0
    code, out, _ = run_cli(monkeypatch, capsys, "plan", "lenet5", "--batch", "4", "--measure",
                           "--json")  # fmt: skip
    [measured] = json.loads(out)["plans"]
    assert code == 0 and 0.7 * measured["training"] <= measured["measured"] <= measured["training"]
    code, out, _ = run_cli(monkeypatch, capsys, "plan", "lenet5")
    assert code == 0 and "seeds' rule of thumb" in out
    for args, message in [
        (["fcos_resnet18_fpn"], "is a detector: lumos plan traces classifiers and segmenters"),
        (["nonet"], "unknown network 'nonet'"),
        (["lenet5", "--batch", "0"], "use sizes of 1 or more"),
        (["lenet5", "--batch", "4,x"], "use sizes of 1 or more"),
        (["lenet5", "--memory", "lots"], "use an amount such as 16GB"),
        (["lenet5", "--input", "3x0x0"], "must be positive"),
        (["lenet5", "--input", "big"], "use CHANNELSxHEIGHTxWIDTH"),
    ]:
        code, _, err = run_cli(monkeypatch, capsys, "plan", *args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
