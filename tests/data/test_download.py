"""The --download code paths, fed from local files through file:// URLs (no network)."""

import gzip
import tarfile
from pathlib import Path

import pytest

from helpers import cifar_source, mnist_source, run_cli
from lumos.data import Dataset
from lumos.data.formats import cifar, mnist
from lumos.workspace import Workspace


def test_mnist_download_then_import(
    tmp_path: Path,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    mirror = mnist_source(tmp_path / "mirror")
    for plain in mirror.glob("t10k-*"):
        plain.with_name(plain.name + ".gz").write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setattr(mnist, "MIRROR", mirror.as_uri() + "/")
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "data",
        "import",
        str(tmp_path / "cache"),
        "--name",
        "mnist",
        "--format",
        "mnist",
        "--download",
    )
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(mnist.FILES)
    assert len(Dataset.open("mnist")) == 50


def test_cifar_download_unpacks_safely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = cifar_source(tmp_path / "build" / "cifar-10-batches-py")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(batches, arcname="cifar-10-batches-py")
    monkeypatch.setitem(cifar.URLS, "cifar10", archive.as_uri())
    inner = cifar.download(tmp_path / "cache")
    assert (inner / "data_batch_1").is_file() and cifar.sniff(inner)


def test_download_failure_is_one_clear_error(
    tmp_path: Path,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setattr(mnist, "MIRROR", (tmp_path / "nowhere").as_uri() + "/")
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "data",
        "import",
        str(tmp_path / "c"),
        "--name",
        "m",
        "--format",
        "mnist",
        "--download",
    )
    assert code == 2 and "download failed" in err
    code, _, err = run_cli(
        monkeypatch, capsys, "data", "import", str(tmp_path / "c"), "--name", "m", "--download"
    )
    assert code == 2 and "--download needs --format mnist or --format cifar" in err
