"""The planner's API for the new-model form: the GPU catalogue, a recipe's memory and, on a
GPU, its largest batch, epoch time and cost; and what it refuses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

from helpers import api_error, colour_folders, run_cli, workbench_client
from lumos.choices import (
    ArtefactPrecision,
    Backend,
    ExportFormat,
    Pruning,
    ResizeMode,
    TaskKind,
)
from lumos.data import import_dataset
from lumos.plan import Planner, workload
from lumos.recipe import FixedPrecision, Optimizer, Precision
from lumos.workspace import Workspace


def test_the_plan_of_a_recipe_on_a_dataset_and_a_gpu(workspace: Workspace, tmp_path: Path) -> None:
    import_dataset(colour_folders(tmp_path / "colours"), "colours", workspace=workspace)
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    gpus = client.get("/api/gpus").json()
    assert {"t4", "a100-40gb", "jetson-tx2"} <= {g["key"] for g in gpus}
    query = {"network": "lenet5", "dataset": "colours", "batch": 16, "precision": "fp32"}
    memory = client.get("/api/plan", params=query).json()["memory"]
    expected = Planner(workload("lenet5", (3, *memory["input_shape"][1:]), num_classes=3))
    assert memory["training"] == expected.plan(16).training and memory["batch"] == 16
    on_gpu = client.get("/api/plan", params=query | {"gpu": "t4", "epochs": 3}).json()
    device = on_gpu["device"]
    assert device["device"] == "t4" and device["largest_batch"] > 16 and on_gpu["images"] > 0
    assert device["usd_per_run"] > 0 and 0 < on_gpu["share"] <= 1
    # An epoch, part by part: compute (estimated), the steps' fixed cost and the loader's
    # rate (both measured here), overlapping loading, then validation.
    assert on_gpu["step_seconds"] > 0 and on_gpu["loader_rate"] > 0
    steps = -(-on_gpu["images"] // 16)
    assert device["overhead_seconds"] == pytest.approx(steps * on_gpu["step_seconds"])
    assert device["loading_seconds"] == pytest.approx(on_gpu["images"] / on_gpu["loader_rate"])
    busy = max(device["compute_seconds"] + device["overhead_seconds"], device["loading_seconds"])
    assert device["epoch_seconds"] == pytest.approx(busy + device["validation_seconds"])
    assert device["validation_seconds"] > 0
    automatic = client.get("/api/plan", params=query | {"gpu": "a100-40gb", "precision": "auto"})
    assert automatic.json()["memory"]["precision"] == "bf16"  # CUDA autocast where it has it

    assert "unknown GPU 'gtx-9999'" in api_error(
        client.get("/api/plan", params=query | {"gpu": "gtx-9999"}), 400
    )
    assert "unknown network 'nonet'" in api_error(
        client.get("/api/plan", params=query | {"network": "nonet"}), 404
    )
    assert "no dataset named 'nope'" in api_error(
        client.get("/api/plan", params=query | {"dataset": "nope"}), 404
    )
    sized = client.get("/api/plan", params=query | {"input_size": "32,24"}).json()
    assert sized["input"] == {"size": [32, 24], "reason": "the recipe's input_size"}
    assert sized["memory"]["input_shape"] == [3, 32, 24]
    assert "the images' own size" in client.get("/api/plan", params=query).json()["input"]["reason"]
    bad_sizes = ({"input_size": "32"}, {"input_size": "32,x"}, {"input_size": "1" * 9 + ",2"})
    for bad in ({"batch": 0}, {"batch": "x"}, {"precision": "fp8"}, {"gpu": "g" * 200}, *bad_sizes):
        assert client.get("/api/plan", params=query | bad).status_code == 422, bad


def test_both_front_ends_offer_the_recipes_choices(
    workspace: Workspace, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The CLI's and the web's optimiser and precision lists are the recipe's own, so
    neither can drift (``lumos plan`` takes an arithmetic: ``auto`` differs by device)."""
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    parameters = client.get("/openapi.json").json()["paths"]["/api/plan"]["get"]["parameters"]
    web = {p["name"]: p["schema"].get("enum") for p in parameters}
    assert web["optimizer"] == list(get_args(Optimizer))
    assert web["precision"] == list(get_args(Precision)) == ["auto", *get_args(FixedPrecision)]
    for option, choices in (("--optimizer", Optimizer), ("--precision", FixedPrecision)):
        code, _, err = run_cli(monkeypatch, capsys, "plan", "lenet5", option, "nope")
        listed = ", ".join(f"'{c}'" for c in get_args(choices))
        assert code == 2 and f"'nope' is not one of {listed}." in err, err


def test_both_front_ends_offer_the_librarys_import_and_deployment_choices(
    workspace: Workspace, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The web's optimise request and new-dataset form, and the CLI's export, optimize and
    serve options, offer the lists of lumos.choices and nothing else."""
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    optimize = schemas["OptimizeJob"]["properties"]
    assert optimize["precision"]["enum"] == list(get_args(ArtefactPrecision))
    assert optimize["pruning"]["enum"] == list(get_args(Pruning))
    form = client.get("/datasets/new").text
    for field, choices in (("resize_mode", ResizeMode), ("task", TaskKind)):
        select = re.search(f'<select name="{field}">(.*?)</select>', form)
        assert select and re.findall(r"<option>([\w-]+)</option>", select[1]) == list(
            get_args(choices)
        ), field
    for args, choices in (
        (("export", "m", "--format"), ExportFormat),
        (("optimize", "m", "--precision"), ArtefactPrecision),
        (("optimize", "m", "--pruning"), Pruning),
        (("serve", "m", "--backend"), Backend),
    ):
        code, _, err = run_cli(monkeypatch, capsys, *args, "nope")
        listed = ", ".join(f"'{c}'" for c in get_args(choices))
        assert code == 2 and f"'nope' is not one of {listed}." in err, err
