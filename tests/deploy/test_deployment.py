"""Export, optimise, run and benchmark a trained classifier; and every way these are refused."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import PYTHON_NETWORK, colour_folders, lenet_workspace, run_cli, workbench_client
from lumos.data import Dataset, import_dataset
from lumos.deploy import Bundle, BundleError
from lumos.deploy.export import ExportError, export_bundle, onnx_bytes, read_metadata
from lumos.deploy.optimize import layer_counts, optimize_bundle
from lumos.deploy.prune import fine_tune, prune_model
from lumos.deploy.runtime import Predictor, load_predictor, predictor_for
from lumos.deploy.sessions import BackendError, onnx_session
from lumos.errors import DataError
from lumos.models import NetworkSpec
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return lenet_workspace(tmp_path_factory.mktemp("deployment") / "workspace")


@pytest.fixture
def cli(home: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    return lambda *args: run_cli(monkeypatch, capsys, *args)


def _digit_files(home: Workspace, folder: Path, count: int = 6) -> tuple[list[Path], list[str]]:
    test = Dataset.open("digits", home).split("test")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(test.images(np.arange(count))):
        paths.append(folder / f"{i}.png")
        Image.fromarray(image[:, :, 0]).save(paths[-1])
    return paths, [test.classes[c] for c in test.labels()[:count]]


def test_onnx_export_carries_labels_and_matches_pytorch(cli, home: Workspace, tmp_path: Path):
    code, out, err = cli("export", "lenet", "--out", str(tmp_path / "lenet.onnx"))
    assert code == 0, err
    assert "checked on 'digits' test images" in out and "top-1 agreement 100.0%" in out
    meta = read_metadata(tmp_path / "lenet.onnx")
    assert meta["labels"] == [str(d) for d in range(10)] and meta["preprocessing"]["size"] == [
        28,
        28,
    ]
    # How a consumer must resize: the filters, and that sizes are height then width.
    assert meta["size_order"] == "height, width"
    assert meta["resampling"] == {
        "to_size": "bilinear (Pillow, reducing_gap 3), placed by resize mode squash",
        "to_input_size": "bilinear, antialiased (torch.nn.functional.interpolate)",
    }
    # Any batch size; same classes as PyTorch on files it never saw.
    paths, _ = _digit_files(home, tmp_path / "files", 5)
    bundle = Bundle.load("lenet", home)
    torch_top = [p.labels for p in bundle.predict(paths)]
    onnx = load_predictor(bundle, "onnxruntime", artefact=tmp_path / "lenet.onnx")
    onnx_top = [p.labels for p in onnx.predict(paths)]
    assert onnx_top == torch_top


def test_static_batch_and_torchscript_exports(cli, home: Workspace, tmp_path: Path):
    code, out, _ = cli(
        "export", "lenet", "--no-dynamic-batch", "--opset", "17", "--out", str(tmp_path / "s.onnx")
    )
    assert code == 0 and "agreement 100.0%" in out
    session = onnx_session(tmp_path / "s.onnx")
    assert session.get_inputs()[0].shape[0] == 1
    code, out, _ = cli("export", "lenet", "--format", "torchscript")
    assert code == 0
    path = home.models_dir / "lenet" / "artefacts" / "lenet.pt"
    extra = {"lumos.json": ""}
    with pytest.warns(FutureWarning, match="deprecated"):  # TorchScript is, in torch 2.14
        scripted = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["lumos.json"])["labels"][3] == "3"
    assert scripted(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_export_that_differs_from_pytorch_is_refused(home: Workspace, tmp_path: Path, monkeypatch):
    import lumos.deploy.export as export

    bundle = Bundle.load("lenet", home)
    damaged = bundle.model()
    with torch.no_grad():
        next(damaged.parameters()).mul_(3)  # the graph no longer computes the bundle
    real = export.onnx_bytes
    monkeypatch.setattr(export, "onnx_bytes", lambda b, **kw: real(b, **{**kw, "model": damaged}))
    with pytest.raises(ExportError, match="differs from PyTorch.*top-1 agreement"):
        export_bundle(bundle, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


def test_unsupported_operator_is_named(home: Workspace):
    source = PYTHON_NETWORK.replace(
        "    return nn.Sequential(nn.Flatten(), nn.Linear(features, num_classes))\n",
        "    import torch\n"
        "    class Zeta(nn.Module):\n"
        "        def forward(self, x):\n"
        "            x = x.flatten(1)[:, :num_classes] + 2\n"
        "            return torch.special.zeta(x, torch.tensor(2.0))\n"
        "    return Zeta()\n",
    )
    spec = NetworkSpec(
        name="python", source=source, num_classes=3, in_channels=1, input_size=(8, 8)
    )
    bundle = Bundle.untrained(spec, trust_code=True)
    with pytest.raises(ExportError, match=r"operator prims\.zeta is not supported"):
        onnx_bytes(bundle, trust_code=True)


def test_bad_bundles_and_options_get_one_line(cli, home: Workspace, tmp_path: Path):
    truncated = tmp_path / "cut.lumos"
    truncated.write_bytes(Bundle.load("lenet", home).save(tmp_path / "whole").read_bytes()[:500])
    code, _, err = cli("export", str(truncated))
    assert (
        code == 2 and "cut.lumos: not a lumos bundle or truncated" in err and "Traceback" not in err
    )
    future = tmp_path / "future.lumos"
    with zipfile.ZipFile(future, "w") as archive:
        archive.writestr("bundle.json", json.dumps({"lumos_bundle": 99}))
        archive.writestr("weights.safetensors", b"")
    cases = [
        (("optimize", str(future)), "bundle version 99 is not supported"),
        (("export", "lenet", "--format", "tflite"), "'tflite' is not one of 'onnx', 'torchscript'"),
        (("export", "lenet", "--opset", "99"), "opset 99 is outside"),
        (("optimize", "lenet", "--precision", "int4"), "'int4' is not one of 'fp32', 'fp16'"),
        (("optimize", "lenet", "--data", "nodata"), "nodata"),
        (("bench", "lenet", "--batch-sizes", "1,x"), "not a comma-separated list"),
        (("bench", "lenet", "--backends", "onnxruntime:int3"), "has no 'int3' artefact"),
        (("serve", "lenet", "--backend", "tensorrt"), "needs TensorrtExecutionProvider"),
        (("serve", "nomodel"), "no model named 'nomodel'"),
    ]
    for args, message in cases:
        code, _, err = cli(*args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
    not_onnx = tmp_path / "x.onnx"
    not_onnx.write_bytes(b"\x00garbage")
    with pytest.raises(BundleError, match="x.onnx: ONNX Runtime cannot load it"):
        onnx_session(not_onnx)
    with pytest.raises(ExportError, match="x.onnx: not an ONNX model"):
        read_metadata(not_onnx)


def test_detection_bundles_are_refused_by_name(home: Workspace):
    bundle = Bundle.load("lenet", home)
    bundle.meta.task = "detection"
    with pytest.raises(ExportError, match="lenet5 cannot be exported with its post-processing"):
        onnx_bytes(bundle)
    with pytest.raises(ExportError, match="lenet5 cannot be exported with its post-processing"):
        Predictor(bundle)


def test_int8_optimisation_is_scored_recorded_and_benchmarked(cli, home: Workspace, tmp_path: Path):
    code, out, err = cli("optimize", "lenet", "--precision", "int8", "--calibrate", "digits")
    assert code == 0, err
    assert "in PyTorch ->" in out and "int8.onnx: top-1 accuracy" in out
    bundle = Bundle.load("lenet", home)
    recorded = bundle.meta.artefacts["int8"]
    assert recorded["baseline"] > 0.85 and abs(recorded["delta"]) <= 0.03
    assert recorded["layers"]["fused"] < recorded["layers"]["pytorch"]
    fp32_size = len(onnx_bytes(bundle))
    assert recorded["size_bytes"] < fp32_size / 2  # int8 weights
    # The int8 artefact predicts files like PyTorch does.
    paths, truth = _digit_files(home, tmp_path / "files")
    int8 = predictor_for(bundle, "onnxruntime:int8").predict(paths)
    assert sum(p.labels == [t] for p, t in zip(int8, truth, strict=True)) >= 5
    code, out, err = cli(
        "bench", "lenet", "--backends", "torch,onnxruntime:int8", "--batch-sizes", "1,4",
        "--seconds", "0.1", "--out", str(tmp_path / "bench"),
    )  # fmt: skip
    assert code == 0, err
    assert "cores" in out and "onnxruntime:int8" in out
    rows = list(csv.DictReader((tmp_path / "bench" / "bench.csv").open()))
    assert [(r["target"], r["batch"]) for r in rows] == [
        ("torch", "1"), ("torch", "4"), ("onnxruntime:int8", "1"), ("onnxruntime:int8", "4"),
    ]  # fmt: skip
    assert all(
        float(r["p50_ms"]) <= float(r["p99_ms"]) and float(r["images_per_s"]) > 0 for r in rows
    )
    report = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert report["machine"]["cores"] >= 1 and "onnxruntime" in report["machine"]
    assert Image.open(tmp_path / "bench" / "bench.png").size[0] > 500


def test_other_precisions_and_pruning(home: Workspace, tmp_path: Path):
    bundle = Bundle.load("lenet", home)
    dataset = Dataset.open("digits", home)
    for precision in ("fp16", "int8-dynamic"):
        artefact = optimize_bundle(bundle, precision=precision, dataset=dataset, out=tmp_path)
        assert (tmp_path / artefact.file).is_file() and abs(artefact.delta) <= 0.03
    pruned = optimize_bundle(
        bundle, precision="fp32", dataset=dataset, prune=0.3, pruning="channels", out=tmp_path
    )
    assert pruned.file == "fp32-pruned30-channels.onnx" and pruned.score > 0.5
    assert pruned.size_bytes < 0.7 * len(onnx_bytes(bundle)) and pruned.pruned_weights > 0.4
    model = bundle.model()
    sparsity = prune_model(model, 0.5, "unstructured")
    assert 0.49 < sparsity < 0.51
    # Channel pruning removes half of every layer's channels (so about 3/4 of the weights),
    # batch norms and next layers' inputs with them; the thinner network still runs.
    model = bundle.model()
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).out_channels
    removed = prune_model(model, 0.5, "channels", torch.rand(1, 1, 28, 28))
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.out_channels == first // 2 and 0.7 < removed < 0.8
    assert model(torch.rand(4, 1, 28, 28)).shape == (4, 10)
    with pytest.raises(DataError, match="between 0 and 1"):
        prune_model(model, 1.5)


def test_fine_tuning_keeps_pruned_weights_at_zero_and_recovers(home: Workspace, tmp_path: Path):
    bundle = Bundle.load("lenet", home)
    dataset = Dataset.open("digits", home)
    model = bundle.model()
    prune_model(model, 0.8)
    zeros = {n: p == 0 for n, p in model.named_parameters() if p.dim() > 1}
    fine_tune(model, bundle, dataset, 2)
    assert all(bool(p[zeros[n]].eq(0).all()) for n, p in model.named_parameters() if n in zeros)
    pruned = optimize_bundle(bundle, precision="fp32", dataset=dataset, prune=0.8, out=tmp_path)
    tuned = optimize_bundle(
        bundle, precision="fp32", dataset=dataset, prune=0.8, finetune=2, out=tmp_path
    )
    assert tuned.file == "fp32-pruned80-unstructured-finetuned2.onnx"
    assert tuned.score > pruned.score and tuned.score >= tuned.baseline - 0.05
    thinner = optimize_bundle(
        bundle, precision="fp32", dataset=dataset, prune=0.5, pruning="channels", finetune=2,
        out=tmp_path,
    )  # fmt: skip
    assert thinner.score >= thinner.baseline - 0.1 and thinner.size_bytes < tuned.size_bytes / 2
    with pytest.raises(DataError, match="fine-tuning follows pruning"):
        optimize_bundle(bundle, precision="fp32", dataset=dataset, finetune=1, out=tmp_path)


def test_calibration_sets_are_checked(cli, home: Workspace, tmp_path: Path):
    import_dataset(colour_folders(tmp_path / "colours"), "rgb", workspace=home)
    code, _, err = cli("optimize", "lenet", "--calibrate", "rgb")
    assert code == 2 and "dataset 'rgb' has 3-channel images; model 'lenet' takes 1" in err
    few = tmp_path / "few"
    for i, image in enumerate(Dataset.open("digits", home).images(np.arange(10))):
        (few / str(i % 2)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[:, :, 0]).save(few / str(i % 2) / f"{i}.png")
    import_dataset(few, "few", workspace=home, channels=1, val_percent=0, test_percent=0)
    code, _, err = cli("optimize", "lenet", "--calibrate", "few")
    assert (
        code == 2
        and "calibration set 'few' has 10 images; INT8 calibration needs at least 16" in err
    )
    assert "int8-dynamic" not in Bundle.load("lenet", home).meta.artefacts


def test_layer_counts_fall_with_fusion():
    spec = NetworkSpec(name="resnet18", num_classes=4, in_channels=3, input_size=(64, 64))
    bundle = Bundle.untrained(spec)
    model = bundle.model()
    counts = layer_counts(model, torch.rand(1, 3, 64, 64), onnx_bytes(bundle, model=model))
    # 20 convolutions with 20 batch norms, 17 ReLUs, 8 additions, pooling, the classifier...
    assert counts.pytorch >= 69
    # ... batch norm folded at export, activations and additions fused by ONNX Runtime.
    assert counts.onnx <= counts.pytorch - 20 and counts.fused < counts.onnx


def test_backends_agree_and_unknown_ones_are_refused(home: Workspace):
    bundle = Bundle.load("lenet", home)
    batch = Dataset.open("digits", home).split("test").images(np.arange(8))
    torch_scores = np.stack([s[0] for s in Predictor(bundle).shares(batch)])
    onnx_scores = np.stack([s[0] for s in load_predictor(bundle, "onnxruntime").shares(batch)])
    assert np.abs(torch_scores - onnx_scores).max() < 1e-4
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        load_predictor(bundle, "tpu")
    with pytest.raises(BackendError, match="needs CUDAExecutionProvider"):
        load_predictor(bundle, "onnxruntime-cuda")
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="'torch-cuda' needs a CUDA GPU"):
            load_predictor(bundle, "torch-cuda")
    with pytest.raises(TypeError, match="load_predictor"):
        Predictor(bundle, "onnxruntime")
    with pytest.raises(BackendError, match="artefacts run on ONNX Runtime"):
        predictor_for(bundle, "torch:int8")


def test_predict_reads_image_bytes(home: Workspace):
    from lumos.tasks.inputs import preprocess

    bundle = Bundle.load("lenet", home)
    buffer = io.BytesIO()
    Image.new("L", (40, 30), 128).save(buffer, format="PNG")
    assert preprocess(buffer.getvalue(), bundle, "upload.png").shape == (28, 28, 1)
    with pytest.raises(DataError, match="upload.bin: not an image"):
        preprocess(b"not an image", bundle, "upload.bin")
    with pytest.raises(DataError, match="empty file"):
        preprocess(b"", bundle, "empty.png")


def test_optimisation_as_a_queued_job_from_the_web(home: Workspace, tmp_path: Path):
    from lumos.worker import run_job

    client = workbench_client(home, roots=[tmp_path], run_jobs=False)
    queued = client.post("/api/optimize", json={"model": "lenet", "precision": "int8-dynamic"})
    assert queued.status_code == 202 and queued.json()["title"] == "optimise lenet to int8-dynamic"
    assert run_job(home, queued.json()["id"]) == 0  # what the runner's worker process does
    assert client.get(f"/api/jobs/{queued.json()['id']}").json()["state"] == "done"
    recorded = client.get("/api/models/lenet").json()["meta"]["artefacts"]["int8-dynamic"]
    download = client.get("/api/models/lenet/artefacts/int8-dynamic")
    assert download.status_code == 200 and len(download.content) == recorded["size_bytes"]
    assert onnx_session(download.content).get_inputs()[0].name == "images"
    bad = [
        ({"model": "lenet", "precision": "int3"}, 422, "'fp32', 'fp16', 'int8' or 'int8-dynamic'"),
        ({"model": "lenet", "pruning": "random"}, 422, "pruning"),
        ({"model": "lenet", "prune": 2}, 422, "prune"),
        ({"model": "nomodel"}, 404, "no model named 'nomodel'"),
        ({"model": "lenet", "calibrate": "nodata"}, 404, "nodata"),
        ({"model": "../etc"}, 400, "model name"),
        ({"model": "lenet", "finetune": "many"}, 422, "finetune"),
        ({"precision": "int8"}, 422, "model"),
    ]
    for body, status, message in bad:
        response = client.post("/api/optimize", json=body)
        assert response.status_code == status and message in response.json()["error"], body
    exported = client.get("/api/models/lenet/export.onnx")
    assert exported.status_code == 200 and read_metadata(exported.content)["name"] == "lenet"
    missing = client.get("/api/models/lenet/artefacts/fp64")
    assert missing.status_code == 404 and "has no 'fp64' artefact" in missing.json()["error"]
