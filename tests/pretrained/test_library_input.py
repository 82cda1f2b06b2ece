"""Weights bring their own input transform and class names, as their library states them
(torchvision's weights enums, timm's pretrained configs): lumos feeds a photo to imported
weights exactly as the library's own transform does, and answers as the library's model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torchvision
from PIL import Image
from timm.data import create_transform, resolve_data_config
from timm.models import get_pretrained_cfg

from helpers import run_cli
from lumos.bundle import Bundle
from lumos.errors import DataError
from lumos.pretrained import IMAGENET, ImportRequest, import_model, weights_input
from lumos.tasks.inputs import network_input, seen
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A photo-like image, wider than high by an odd number of pixels (the centre crop's
    rounding shows), with smooth gradients and fine detail (the filter shows)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:217, 0:300]
    smooth = np.stack([x / 300, y / 217, (x + y) / 517], axis=-1) * 200
    pixels = np.clip(smooth + rng.normal(0, 25, smooth.shape), 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(pixels).save(path)
    return path


def _imported(model: torch.nn.Module, network: str, spec: str, folder: Path) -> Bundle:
    torch.save(model.state_dict(), folder / "weights.pth")
    request = ImportRequest(folder / "weights.pth", network, preprocess=spec)
    return Bundle.load(import_model(request, workspace=Workspace(folder / "ws")))


def _lumos_input(bundle: Bundle, photo: Path) -> torch.Tensor:
    """What lumos's network sees, normalised as its first layer normalises it."""
    pre = bundle.preprocessing
    mean, std = (torch.tensor(v)[:, None, None] for v in (pre.mean, pre.std))
    return (network_input([seen(photo, bundle).pixels], bundle)[0] - mean) / std


@pytest.mark.parametrize(
    ("spec", "network", "library_model", "library_transform"),
    [
        (
            "torchvision:resnet18.IMAGENET1K_V1",
            "resnet18",
            lambda: torchvision.models.resnet18(),
            lambda: torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms(),
        ),
        (
            "timm:resnet18.a1_in1k",  # bicubic, crop 0.95
            "timm:resnet18",
            lambda: timm.create_model("resnet18"),
            lambda: create_transform(
                **resolve_data_config(
                    {}, pretrained_cfg=get_pretrained_cfg("resnet18.a1_in1k").to_dict()
                )
            ),
        ),
    ],
)
def test_imported_weights_see_a_photo_and_answer_as_their_library_does(
    spec: str, network: str, library_model, library_transform, photo: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    model = library_model().eval()
    bundle = _imported(model, network, spec, tmp_path)
    expected_input = library_transform()(Image.open(photo).convert("RGB"))
    got_input = _lumos_input(bundle, photo)
    assert got_input.shape == expected_input.shape == (3, 224, 224)
    std = torch.tensor(bundle.preprocessing.std)[:, None, None]
    assert float(((got_input - expected_input) * std).abs().max()) <= 1 / 255

    [answer] = bundle.predict([photo], top=5)
    with torch.no_grad():
        probabilities = torch.softmax(model(expected_input[None]), 1)[0]
    best = probabilities.topk(5)
    labels = weights_input(spec).labels
    assert labels is not None and bundle.labels == labels and len(labels) == 1000
    assert [label for label, _ in answer.top] == [labels[i] for i in best.indices]
    np.testing.assert_allclose([p for _, p in answer.top], best.values.numpy(), atol=1e-5)


def test_what_each_library_states_is_read_without_a_download() -> None:
    torchvision_input = weights_input("torchvision:ResNet50_Weights.IMAGENET1K_V2")
    assert torchvision_input.size == (224, 224) and torchvision_input.resize_shorter == 232
    assert torchvision_input.interpolation == "bilinear"
    assert torchvision_input.labels and torchvision_input.labels[0] == "tench"
    lite = weights_input("timm:tf_efficientnet_lite0.in1k")
    assert lite.mean == lite.std == (0.5, 0.5, 0.5) and lite.interpolation == "bicubic"
    assert lite.resize_shorter == 256  # crop_pct 0.875 of 224
    assert lite.labels and lite.labels[1].startswith("goldfish, ")  # ILSVRC names hold commas
    detector = weights_input("torchvision:fcos_resnet50_fpn.COCO_V1")  # the model normalises
    assert (detector.size, detector.resize_shorter) == (None, None)
    assert (detector.mean, detector.std) == (IMAGENET[0], IMAGENET[1])
    assert detector.labels and detector.labels[:2] == ["background", "person"]
    segmenter = weights_input("torchvision:deeplabv3_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1")
    assert (segmenter.size, segmenter.resize_shorter) == ((520, 520), None)
    assert segmenter.labels and segmenter.labels[:2] == ["background", "aeroplane"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("torchvision:resnet5O.IMAGENET1K_V1", "(nearest: resnet50.IMAGENET1K_V1"),
        ("timm:convnext_tiny.fb_in22", "no pretrained 'convnext_tiny.fb_in22' (nearest: "),
        ("hub:resnet50", "unknown weights 'hub:resnet50'"),
    ],
)  # fmt: skip
def test_unknown_weights_are_refused_with_the_nearest_names(spec: str, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        weights_input(spec)


def test_the_command_line_takes_a_labels_file_and_the_weights_own_transform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """ILSVRC's synset file, names with commas in it, one a line; a state dict saved without
    the batch norms' step counts, as several exporters write them; the transform stated
    explicitly. Bad input: one line, exit code 2, nothing stored."""
    monkeypatch.setenv("LUMOS_HOME", str(tmp_path / "ws"))
    model = torchvision.models.resnet18(num_classes=3)
    weights = {k: v for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    torch.save(weights, tmp_path / "r18.pth")
    synsets = ["n01440764 tench, Tinca tinca", "n01443537 goldfish, Carassius auratus", "n0 x"]
    (tmp_path / "synsets.txt").write_text("\n".join(synsets) + "\n")
    args = ["models", "import", str(tmp_path / "r18.pth"), "--network", "resnet18"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--labels", str(tmp_path / "synsets.txt"),
                           "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5",
                           "--interpolation", "bicubic", "--crop", "0.875")  # fmt: skip
    assert code == 0, err
    bundle = Bundle.load("r18", Workspace(tmp_path / "ws"))
    assert bundle.labels == synsets
    pre = bundle.preprocessing
    assert (pre.mean, pre.std, pre.interpolation, pre.resize_shorter) == (
        [0.5] * 3,
        [0.5] * 3,
        "bicubic",
        256,
    )
    (tmp_path / "two.txt").write_text("a\nb\n")
    for extra, message in (
        (["--labels", str(tmp_path / "two.txt")], "the weights score 3 classes; 2 labels given"),
        (["--mean", "0.5,0.5,0.5"], "give --mean and --std together"),
        (["--crop", "1.5"], "crop 1.5 is not a share of the image"),
        (["--preprocess", "timm:nonet"], "timm has no pretrained 'nonet'"),
    ):
        code, _, err = run_cli(monkeypatch, capsys, *args, "--name", "bad", *extra)
        assert code == 2 and message in err and "Traceback" not in err, (extra, err)
        assert not (tmp_path / "ws" / "models" / "bad").exists()


def test_an_old_style_torch_file_is_read_as_tensors_only(tmp_path: Path) -> None:
    """torch's pre-1.6 serialisation (not a zip), still read with weights_only=True."""
    model = torchvision.models.resnet18(num_classes=2)
    path = tmp_path / "old.pth"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)
    bundle = Bundle.load(
        import_model(ImportRequest(path, "resnet18"), workspace=Workspace(tmp_path / "ws"))
    )
    assert bundle.labels == ["0", "1"]
