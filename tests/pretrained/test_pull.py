"""Pulling pretrained weights by name through torch.hub's own download code, from a server
on 127.0.0.1 that stands in for download.pytorch.org: torchvision's weights entry points to
it, with the SHA-256 prefix in the file's name as torch.hub checks it."""

from __future__ import annotations

import hashlib
import io
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.models import ResNet18_Weights

from helpers import run_cli
from lumos.bundle import Bundle
from lumos.workspace import Workspace

SPEC = "torchvision:resnet18.IMAGENET1K_V1"


class _Truncating(SimpleHTTPRequestHandler):
    """Says the whole file's length, sends half of it, hangs up."""

    def do_GET(self) -> None:
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def weights_file(tmp_path: Path) -> tuple[Path, str]:
    """A ResNet-18 state dict (random: nothing is downloaded) named as torchvision names its
    files, ``resnet18-<sha256 prefix>.pth``; and its SHA-256."""
    buffer = io.BytesIO()
    torch.save(torchvision.models.resnet18().state_dict(), buffer)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    served = tmp_path / "served"
    served.mkdir()
    path = served / f"resnet18-{digest[:8]}.pth"
    path.write_bytes(buffer.getvalue())
    return path, digest


def _serve(folder: Path, handler: type = _Quiet) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace, and a torch.hub cache of this test's own."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("LUMOS_HOME", str(tmp_path / "ws"))
    return Workspace(tmp_path / "ws")


def _point_to(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setattr(ResNet18_Weights.IMAGENET1K_V1.value, "url", url)


def _cached(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_pull_downloads_once_and_keeps_the_libraries_transform_labels_and_provenance(
    home: Workspace, weights_file: tuple[Path, str], tmp_path: Path, monkeypatch, capsys
) -> None:
    path, digest = weights_file
    server, url = _serve(path.parent)
    _point_to(monkeypatch, f"{url}/{path.name}")
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SPEC)
    assert code == 0, err
    bundle = Bundle.load("resnet18-imagenet1k_v1", home)
    assert bundle.labels == ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    pre = bundle.preprocessing
    assert (pre.size, pre.resize_shorter, pre.interpolation) == ((224, 224), 256, "bilinear")
    provenance = bundle.meta.provenance
    assert provenance["source"] == "pulled" and provenance["url"] == f"{url}/{path.name}"
    assert provenance["sha256"] == digest and provenance["metrics"]["ImageNet-1K"]["acc@1"] > 60
    assert [p.name for p in _cached(tmp_path)] == [path.name]

    server.shutdown()  # no network now: the cache serves
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SPEC, "--name", "again")
    assert code == 0, err
    assert Bundle.load("again", home).meta.provenance["sha256"] == digest


@pytest.mark.parametrize("broken", ["hash", "truncated", "offline"])
def test_a_broken_download_stores_nothing_and_says_how_to_go_on(
    broken: str,
    home: Workspace,
    weights_file: tuple[Path, str],
    tmp_path: Path,
    monkeypatch,
    capsys,
) -> None:
    path, _ = weights_file
    if broken == "hash":  # a file whose name promises another hash
        path = path.rename(path.with_name("resnet18-00000000.pth"))
    server, url = _serve(path.parent, _Truncating if broken == "truncated" else _Quiet)
    if broken == "offline":
        server.shutdown()
        server.server_close()
    _point_to(monkeypatch, f"{url}/{path.name}")
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SPEC)
    expected = {
        "hash": "invalid hash value",
        "truncated": "invalid hash value",
        "offline": f"`lumos models pull {SPEC} --from FILE`, or put it at ",
    }[broken]
    assert code == 2 and expected in err and "Traceback" not in err, err
    assert _cached(tmp_path) == [] and not list((tmp_path / "ws" / "models").glob("*"))


def test_a_file_fetched_elsewhere_is_checked_and_taken(
    home: Workspace, weights_file: tuple[Path, str], tmp_path: Path, monkeypatch, capsys
) -> None:
    path, digest = weights_file
    _point_to(monkeypatch, f"http://127.0.0.1:9/{path.name}")  # never reached
    other = tmp_path / "other.pth"
    other.write_bytes(path.read_bytes()[:-1] + b"x")
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SPEC, "--from", str(other))
    assert code == 2 and f"other.pth: not {path.name}: its SHA-256 starts" in err, err
    assert _cached(tmp_path) == []
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SPEC, "--from", str(path))
    assert code == 0, err
    assert Bundle.load("resnet18-imagenet1k_v1", home).meta.provenance["sha256"] == digest


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("torchvision:resnet18.IMAGENET1K_V9", "(nearest: resnet18.IMAGENET1K_V1"),
        ("timm:resnet18.a1_in1k9", "(nearest: resnet18.a1_in1k"),
        (
            "resnet18",
            "unknown weights 'resnet18': use torchvision:NAME.TAG, timm:NAME.TAG or hf-hub",
        ),
    ],
)
def test_weights_that_cannot_be_pulled_are_named(
    spec: str, message: str, home: Workspace, monkeypatch, capsys
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", spec)
    assert code == 2 and message in err and "Traceback" not in err, err


def test_the_pullable_weights_are_listed_with_what_torchvision_states(monkeypatch, capsys) -> None:
    code, out, _ = run_cli(monkeypatch, capsys, "models", "pull", "--list", "resnet18*")
    assert code == 0 and "resnet18" in out and "acc@1 69.8" in out and "11,689,512" in out
    code, out, _ = run_cli(monkeypatch, capsys, "models", "pull", "--list", "fcos*")
    assert code == 0 and "│ fcos_resnet50_fpn │" in out and "box_map 39.2 on" in out
