"""Importing weights users already have (torchvision's, timm's, checkpoints) into the store."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from helpers import colour_folders, run_cli
from lumos.bundle import Bundle
from lumos.bundle.fingerprint import fingerprint
from lumos.data import Dataset, import_dataset
from lumos.errors import DataError
from lumos.models import ModelError, NetworkSpec, build_network
from lumos.pretrained import IMAGENET, ImportRequest, import_model
from lumos.pretrained.weights import NOT_WEIGHTS
from lumos.transfer.scoring import source_fingerprint
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def resnet(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    """A torchvision ResNet-18 of 5 classes (random weights: no download) saved as its
    state dict, the way torchvision users save theirs."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=5).eval()
    path = tmp_path_factory.mktemp("weights") / "resnet18-pets.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_torchvision_weights_predict_as_torchvision_does(
    resnet: tuple[torch.nn.Module, Path], tmp_path: Path
) -> None:
    model, path = resnet
    workspace = Workspace(tmp_path / "ws")
    request = ImportRequest(path, "resnet18", labels=list("abcde"), stats=IMAGENET,
                            trained_on="pets (5 breeds)")  # fmt: skip
    bundle = Bundle.load(import_model(request, workspace=workspace))
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    [prediction] = bundle.predict([image], top=5)
    mean, std = (torch.tensor(v)[:, None, None] for v in IMAGENET)
    x = (torch.from_numpy(image).permute(2, 0, 1).float() / 255 - mean) / std
    with torch.no_grad():
        expected = torch.softmax(model(x[None]), 1)[0]
    got = dict(prediction.top)
    np.testing.assert_allclose([got[c] for c in "abcde"], expected.numpy(), atol=1e-5)
    provenance = bundle.meta.provenance
    assert provenance["source"] == "imported" and provenance["dataset"] == "pets (5 breeds)"
    assert provenance["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert provenance["bytes"] == path.stat().st_size and provenance["file"] == str(path)
    assert bundle.meta.feature_fingerprint is None  # its data is not in the workspace


def test_weights_trained_on_a_workspace_dataset_are_fingerprinted_when_asked(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path / "ws").ensure()
    import_dataset(colour_folders(tmp_path / "colours"), "colours", workspace=workspace)
    path = tmp_path / "lenet.pth"
    torch.save(build_network(NetworkSpec.resolve("lenet5", 3, 3, (16, 16))).state_dict(), path)
    request = ImportRequest(path, "lenet5", labels=["blue", "green", "red"],
                            input_shape=(3, 16, 16), trained_on="colours")  # fmt: skip
    bundle = Bundle.load(import_model(request, workspace=workspace))
    train_split = Dataset.open("colours", workspace).split("train")
    assert bundle.meta.provenance["fingerprint"] == train_split.manifest["fingerprint"]
    assert bundle.meta.feature_fingerprint is None  # made when a ranking asks for P2L
    assert source_fingerprint(bundle, workspace) == fingerprint(train_split)
    assert Bundle.load(bundle.folder).meta.feature_fingerprint == fingerprint(train_split)


def test_timm_safetensors_and_checkpoints_through_the_cli(
    resnet: tuple[torch.nn.Module, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(tmp_path / "ws"))
    weights = tmp_path / "mobile.safetensors"
    save_file(timm.create_model("mobilenetv3_small_050", num_classes=3).state_dict(), weights)
    network = "timm:mobilenetv3_small_050"
    code, out, err = run_cli(monkeypatch, capsys, "models", "import", str(weights),
                             "--network", network, "--labels", "x,y,z")  # fmt: skip
    assert code == 0, err
    checkpoint = tmp_path / "ckpt.pt"
    torch.save({"epoch": 7, "state_dict": torch.load(resnet[1], weights_only=True)}, checkpoint)
    code, out, err = run_cli(monkeypatch, capsys, "models", "import", str(checkpoint),
                             "--network", "resnet18", "--name", "from-ckpt")  # fmt: skip
    assert code == 0, err
    code, out, _ = run_cli(monkeypatch, capsys, "models", "list", "--json")
    saved = {row["name"]: row for row in json.loads(out)["saved"]}
    assert saved["mobile"]["source"] == "imported mobile.safetensors"
    assert saved["from-ckpt"]["provenance"]["format"] == "torch"
    assert Bundle.load("from-ckpt").labels == ["0", "1", "2", "3", "4"]  # from the head's rows
    code, _, err = run_cli(monkeypatch, capsys, "models", "import", str(checkpoint),
                           "--network", "resnet18", "--name", "from-ckpt")  # fmt: skip
    assert code == 2 and "model 'from-ckpt' already exists: use --overwrite" in err


class _Payload:
    """A pickle that would create a file if it were ever unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_what_is_not_weights_is_refused_without_running_it(
    resnet: tuple[torch.nn.Module, Path], tmp_path: Path
) -> None:
    marker = tmp_path / "was-run"
    hostile = tmp_path / "hostile.pth"
    hostile.write_bytes(pickle.dumps({"fc.weight": _Payload(marker)}))
    cases = {
        hostile: NOT_WEIGHTS,
        tmp_path / "empty.pth": "empty file (0 bytes)",
        tmp_path / "noise.pth": NOT_WEIGHTS,
        tmp_path / "noise.safetensors": "not a safetensors file",
        tmp_path / "list.pt": "not a state dict: expected names mapped to tensors",
        tmp_path / "missing.pth": "no such file",
    }
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "noise.pth").write_bytes(b"\x89not torch" * 50)
    (tmp_path / "noise.safetensors").write_bytes(b"\x00" * 100)
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    workspace = Workspace(tmp_path / "ws")
    for path, reason in cases.items():
        with pytest.raises(DataError, match=re.escape(f"{path.name}: {reason}")):
            import_model(ImportRequest(path, "resnet18"), workspace=workspace)
    assert not marker.exists()
    mistakes = [
        (ImportRequest(resnet[1], "resnet34"), "not weights of resnet34 (missing: layer1.2."),
        (ImportRequest(resnet[1], "resnet18", labels=("a", "b")), "score 5 classes; 2 labels"),
        (
            ImportRequest(resnet[1], "fcos_resnet18_fpn"),
            "no head of fcos_resnet18_fpn (head.classification_head.cls_logits.weight",
        ),
    ]
    for request, reason in mistakes:
        with pytest.raises(DataError, match=re.escape(reason)):
            import_model(request, "x", workspace=workspace)
    with pytest.raises(ModelError, match="unknown network 'resnet9000'"):
        import_model(ImportRequest(resnet[1], "resnet9000"), "x", workspace=workspace)
    assert not (workspace.models_dir / "x").exists()


def test_a_detectors_file_is_imported_with_its_classes_and_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """How many classes a detector's weights score is read from its head (FCOS: one row a
    class, the background first); the names given are its classes."""
    monkeypatch.setenv("LUMOS_HOME", str(tmp_path / "ws"))
    spec = NetworkSpec.resolve("fcos_resnet18_fpn", 3, 3, (64, 64))  # background + 2 classes
    path = tmp_path / "boxes.safetensors"
    save_file(build_network(spec).state_dict(), path)
    base = ("models", "import", str(path), "--network", "fcos_resnet18_fpn")
    code, _, err = run_cli(monkeypatch, capsys, *base, "--labels", "cat,dog,owl")
    assert code == 2 and "the weights score 2 classes; 3 labels given" in err, err
    code, _, err = run_cli(monkeypatch, capsys, *base, "--labels", "cat,dog")
    assert code == 0, err
    bundle = Bundle.load("boxes", Workspace(tmp_path / "ws"))
    assert bundle.task.name == "detection" and bundle.labels == ["background", "cat", "dog"]
