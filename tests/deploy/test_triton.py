"""`lumos export --triton`: a model repository read by Triton's own configuration schema and
run by the real Triton Inference Server."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import onnxruntime
import pytest

from helpers import lenet_workspace, run_cli
from lumos.data import Dataset
from lumos.deploy import Bundle, save_bundle
from lumos.deploy.runtime import Predictor
from lumos.deploy.triton import write_model
from lumos.errors import LumosError
from lumos.models import NetworkSpec, build_model
from lumos.models.normalization import identity, normalized_model
from lumos.tasks.inputs import network_input
from lumos.workspace import Workspace
from needs import peer_module
from triton_server import triton_server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """``lenet`` trained on digits, and untrained 64x64 shape detector and segmenter."""
    workspace = lenet_workspace(tmp_path_factory.mktemp("triton") / "workspace")
    labels = ["background", "circle", "square", "triangle"]
    for name, network, task in (
        ("boxes", "fcos_cs3darknet_n_fpn", "detection"),
        ("masks", "fpn_resnet18", "segmentation"),
    ):
        spec = NetworkSpec(name=network, num_classes=4, in_channels=3, input_size=(64, 64))
        model = normalized_model(build_model(network, 4, 3, (64, 64)), identity(3))
        meta = {
            "task": task, "network": spec.model_dump(mode="json"), "labels": labels,
            "preprocessing": {"size": [64, 64], "input_size": [64, 64], "channels": 3},
            "provenance": {},
        }  # fmt: skip
        save_bundle(name, meta=meta, weights=model.state_dict(), workspace=workspace)
    return workspace


def _schema() -> ModuleType:
    """Triton's model configuration messages, as tritonclient carries them."""
    return peer_module("tritonclient.grpc.model_config_pb2")


def _config(folder: Path) -> object:
    """The model's config.pbtxt parsed by Triton's ModelConfig message (unknown fields fail)."""
    text_format = peer_module("google.protobuf.text_format")
    return text_format.Parse((folder / "config.pbtxt").read_text(), _schema().ModelConfig())


def _tensors(entries) -> dict[str, tuple[str, list[int], str]]:
    return {
        t.name: (
            _schema().DataType.Name(t.data_type),
            list(t.dims),
            getattr(t, "label_filename", ""),  # an output's field
        )
        for t in entries
    }


def test_a_classifier_repository_with_batch_sizes_from_timing(home: Workspace, tmp_path) -> None:
    bundle = Bundle.load("lenet", home)
    model = write_model(bundle, tmp_path / "repo", max_batch=16, bench_seconds=0.05)
    config = _config(model.folder)
    assert config.name == "lenet" and config.backend == "onnxruntime"
    assert config.max_batch_size == 16
    assert _tensors(config.input) == {"images": ("TYPE_FP32", [1, 28, 28], "")}
    assert _tensors(config.output) == {"logits": ("TYPE_FP32", [10], "labels.txt")}
    preferred = list(config.dynamic_batching.preferred_batch_size)
    assert preferred == sorted(preferred) and set(preferred) <= {1, 2, 4, 8, 16}
    assert config.dynamic_batching.max_queue_delay_microseconds == 5000
    assert [g.count for g in config.instance_group] == [1]
    assert config.instance_group[0].kind == _schema().ModelInstanceGroup.KIND_AUTO
    assert (model.folder / "labels.txt").read_text().splitlines() == bundle.labels
    assert model.check.agreement == 1.0
    images = network_input(Dataset.open("digits", home).split("test").images(range(5)), bundle)
    session = onnxruntime.InferenceSession(str(model.folder / "1" / "model.onnx"))
    np.testing.assert_allclose(
        session.run(None, {"images": images.numpy()})[0],
        Predictor(bundle).outputs(images.numpy())[0],
        atol=1e-4,
    )


def test_detector_runs_unbatched_and_segmenter_batched(home: Workspace, tmp_path) -> None:
    boxes = write_model(Bundle.load("boxes", home), tmp_path, instances=2)
    config = _config(boxes.folder)
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    assert _tensors(config.input) == {"images": ("TYPE_FP32", [-1, 3, 64, 64], "")}
    assert _tensors(config.output) == {
        "image": ("TYPE_INT64", [-1], ""),
        "boxes": ("TYPE_FP32", [-1, 4], ""),
        "scores": ("TYPE_FP32", [-1], ""),
        "labels": ("TYPE_INT64", [-1], ""),
    }
    assert [g.count for g in config.instance_group] == [2]
    masks = write_model(Bundle.load("masks", home), tmp_path, preferred=[4, 2])
    config = _config(masks.folder)
    assert config.max_batch_size == 32
    assert list(config.dynamic_batching.preferred_batch_size) == [2, 4]
    assert _tensors(config.output) == {"logits": ("TYPE_FP32", [4, 64, 64], "")}


def test_bad_settings_and_existing_models(
    home: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    bundle = Bundle.load("masks", home)
    for settings, message in (
        ({"name": "../up"}, "'../up' cannot name a Triton model"),
        ({"name": ".hidden"}, "'.hidden' cannot name a Triton model"),
        ({"preferred": [64]}, r"preferred batch sizes must be at most the largest batch \(32\)"),
        ({"preferred": [0]}, "must be whole numbers of at least 1"),
    ):
        with pytest.raises(LumosError, match=message):
            write_model(bundle, tmp_path, **settings)
    assert list(tmp_path.iterdir()) == []
    first = write_model(bundle, tmp_path, preferred=[2])
    with pytest.raises(LumosError, match="masks exists: choose another name, or overwrite it"):
        write_model(bundle, tmp_path, preferred=[4])
    assert list(_config(first.folder).dynamic_batching.preferred_batch_size) == [2]
    write_model(bundle, tmp_path, preferred=[4], overwrite=True)
    assert list(_config(first.folder).dynamic_batching.preferred_batch_size) == [4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks"]

    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    code, out, err = run_cli(
        monkeypatch, capsys, "export", "masks", "--triton", str(tmp_path), "--preferred", "4"
    )
    assert code == 2 and err.count("\n") == 1 and "masks exists" in err and "Traceback" not in err
    (tmp_path / "file").write_text("not a folder")
    code, out, err = run_cli(
        monkeypatch, capsys, "export", "masks", "--triton", str(tmp_path / "file")
    )
    assert code == 2 and err.count("\n") == 1 and "file" in err
    code, out, err = run_cli(
        monkeypatch, capsys, "export", "masks", "--triton", str(tmp_path), "--preferred", "two"
    )
    assert code == 2 and "'two' is not a comma-separated list of numbers" in err
    code, out, err = run_cli(
        monkeypatch, capsys, "export", "masks", "--triton", str(tmp_path), "--name", "m2",
        "--preferred", "2,8", "--max-batch", "8",
    )  # fmt: skip
    assert code == 0 and "dynamic batching up to 8, preferred 2, 8" in out
    assert _config(tmp_path / "m2").name == "m2"


def _mistaken(repository: Path, name: str, source: str, old: str, new: str) -> None:
    """A copy of model ``source`` named ``name`` whose configuration says ``new`` for ``old``."""
    shutil.copytree(repository / source, repository / name)
    config = repository / name / "config.pbtxt"
    text = config.read_text()
    assert old in text
    text = text.replace(old, new).replace(f'name: "{source}"\n', f'name: "{name}"\n', 1)
    config.write_text(text)


def test_the_real_triton_server_runs_the_repository(
    home: Workspace, tmp_path: Path, httpclient
) -> None:
    repository = tmp_path / "repo"
    lenet = Bundle.load("lenet", home)
    write_model(lenet, repository, preferred=[2, 4], max_batch=4)
    write_model(Bundle.load("boxes", home), repository)
    # Configurations that do not describe their graphs, as Triton's backend refuses them.
    _mistaken(repository, "wrong-dims", "lenet", "dims: [ 1, 28, 28 ]", "dims: [ 1, 32, 32 ]")
    _mistaken(repository, "wrong-type", "lenet", "data_type: TYPE_FP32 dims: [ 10 ]",
              "data_type: TYPE_INT64 dims: [ 10 ]")  # fmt: skip
    _mistaken(repository, "batched-boxes", "boxes", "max_batch_size: 0", "max_batch_size: 8")
    test = Dataset.open("digits", home).split("test")
    images = network_input(test.images(range(3)), lenet).numpy()
    with triton_server(repository, tmp_path, load=["lenet", "boxes"]) as url:
        client = httpclient.InferenceServerClient(url)
        assert client.is_model_ready("lenet") and client.is_model_ready("boxes")
        served = client.get_model_config("lenet")
        assert served["dynamic_batching"]["preferred_batch_size"] == [2, 4]
        request = httpclient.InferInput("images", list(images.shape), "FP32")
        request.set_data_from_numpy(images)
        wanted = [httpclient.InferRequestedOutput("logits", class_count=1)]
        top = client.infer("lenet", [request], outputs=wanted).as_numpy("logits")
        logits = Predictor(lenet).outputs(images)[0]
        assert [row[0].decode().split(":")[2] for row in top] == [
            lenet.labels[i] for i in logits.argmax(1)
        ]
        scores = client.infer("lenet", [request]).as_numpy("logits")
        np.testing.assert_allclose(scores, logits, atol=1e-4)

        too_many = httpclient.InferInput("images", [5, 1, 28, 28], "FP32")
        too_many.set_data_from_numpy(np.zeros((5, 1, 28, 28), np.float32))
        with pytest.raises(httpclient.InferenceServerException, match="batch-size must be <= 4"):
            client.infer("lenet", [too_many])

        scene = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
        request = httpclient.InferInput("images", [2, 3, 64, 64], "FP32")
        request.set_data_from_numpy(scene)
        answer = client.infer("boxes", [request])
        session = onnxruntime.InferenceSession(str(repository / "boxes" / "1" / "model.onnx"))
        for name, expected in zip(
            ("image", "boxes", "scores", "labels"),
            session.run(None, {"images": scene}),
            strict=True,
        ):
            np.testing.assert_allclose(answer.as_numpy(name), expected, atol=1e-5)

        for name, reason in (
            ("wrong-dims", r"input 'images': the graph's shape is \[-1, 1, 28, 28\], the "
                           r"configuration's \[-1, 1, 32, 32\]"),
            ("wrong-type", "output 'logits' is TYPE_INT64 in the configuration, tensor.float."),
            ("batched-boxes", r"input 'images': the graph's shape is \[-1, 3, 64, 64\], "
                              r"the configuration's \[-1, -1, 3, 64, 64\] \(max_batch_size > 0"),
        ):  # fmt: skip
            with pytest.raises(httpclient.InferenceServerException, match=reason):
                client.load_model(name)
            assert not client.is_model_ready(name)


def _statistics_of(client, model: str, requests: int) -> dict:
    """The model's statistics once they count ``requests`` inferences: Triton records a
    request's statistics after it has sent the response."""
    deadline = time.monotonic() + 600  # only a hang
    while True:
        stats = client.get_inference_statistics(model)["model_stats"][0]
        if int(stats["inference_count"]) >= requests or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def test_triton_batches_concurrent_requests_dynamically(
    home: Workspace, tmp_path: Path, httpclient
) -> None:
    """48 one-image requests sent at once: Triton's dynamic batcher runs them in batches
    above one (its own statistics say so), and each request gets its own image's answer."""
    lenet = Bundle.load("lenet", home)
    write_model(lenet, tmp_path / "repo", preferred=[4, 8], max_batch=8, max_delay_ms=20)
    test = Dataset.open("digits", home).split("test")
    images = network_input(test.images(range(48)), lenet).numpy()
    expected = Predictor(lenet).outputs(images)[0]
    with triton_server(tmp_path / "repo", tmp_path, load=["lenet"]) as url:
        client = httpclient.InferenceServerClient(url, concurrency=48)
        pending = []
        for image in images:
            request = httpclient.InferInput("images", [1, *image.shape], "FP32")
            request.set_data_from_numpy(image[None])
            pending.append(client.async_infer("lenet", [request]))
        answers = np.concatenate([p.get_result().as_numpy("logits") for p in pending])
        np.testing.assert_allclose(answers, expected, atol=1e-4)
        stats = _statistics_of(client, "lenet", requests=48)
    sizes = {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in stats["batch_stats"]}
    assert int(stats["inference_count"]) == 48 and sum(k * n for k, n in sizes.items()) == 48
    assert max(sizes) > 1 and int(stats["execution_count"]) < 48, sizes
