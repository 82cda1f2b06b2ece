"""Pulling timm's weights through huggingface_hub's own download code, from a server on
127.0.0.1 that answers as the Hub does (``HF_ENDPOINT``'s resolve URLs, with the commit,
ETag and size headers the library reads), into a Hub cache of the test's own."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import timm
from huggingface_hub import constants
from safetensors.torch import save
from timm.models import save_for_hf

from helpers import run_cli
from lumos.bundle import Bundle
from lumos.workspace import Workspace

SPEC = "timm:mobilenetv3_small_050.lamb_in1k"  # small: 6 MB
COMMIT = "0123456789abcdef0123456789abcdef01234567"
NAMES = ["ant", "bee", "cicada"]


def _hub(files: dict[str, bytes], *, cut: bool = False) -> type[BaseHTTPRequestHandler]:
    """A handler serving ``files`` (``ORG/NAME/FILE`` → bytes) at the Hub's resolve URLs, a
    missing file of a known repository with the Hub's ``EntryNotFound`` code (``cut``: half of
    a file under the whole length, then the server is down, so the library's resumed
    download cannot finish it)."""
    sent: list[int] = []
    served = {"/{}/{}/resolve/main/{}".format(*k.split("/", 2)): v for k, v in files.items()}
    repositories = {"/".join(path.split("/")[:3]) for path in served}

    class Hub(BaseHTTPRequestHandler):
        def _head(self) -> bool:
            data = served.get(self.path)
            if cut and sent:  # the connection broke, and the server with it
                self.send_response(503)
                self.end_headers()
                return False
            if data is None:
                self.send_response(404)
                if "/".join(self.path.split("/")[:3]) in repositories:
                    self.send_header("X-Error-Code", "EntryNotFound")
                self.end_headers()
                return False
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return True

        def do_HEAD(self) -> None:
            self._head()

        def do_GET(self) -> None:
            if self._head():
                data = served[self.path]
                self.wfile.write(data[: len(data) // 2] if cut else data)
                sent.append(1)
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return Hub


@pytest.fixture(scope="module")
def weights() -> dict[str, bytes]:
    """timm's network (random weights: nothing is downloaded) as safetensors, where the Hub
    holds timm's weights."""
    data = save(timm.create_model("mobilenetv3_small_050").state_dict())
    return {"timm/mobilenetv3_small_050.lamb_in1k/model.safetensors": data}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("LUMOS_HOME", str(tmp_path / "ws"))
    return Workspace(tmp_path / "ws")


def _serve(monkeypatch: pytest.MonkeyPatch, handler: type) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"  # what HF_ENDPOINT sets
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )
    return server


def test_timm_weights_come_from_the_hub_once_with_their_transform_and_names(
    home: Workspace, weights: dict[str, bytes], monkeypatch, capsys
) -> None:
    server = _serve(monkeypatch, _hub(weights))
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SPEC)
    assert code == 0, err
    bundle = Bundle.load("mobilenetv3_small_050-lamb_in1k", home)
    assert bundle.spec.name == "timm:mobilenetv3_small_050" and len(bundle.labels) == 1000
    assert bundle.labels[0].startswith("tench")
    pre = bundle.preprocessing
    assert (pre.size, pre.resize_shorter, pre.interpolation) == ((224, 224), 256, "bicubic")
    provenance = bundle.meta.provenance
    assert provenance["source"] == "pulled" and provenance["license"] == "apache-2.0"
    assert provenance["repository"] == "timm/mobilenetv3_small_050.lamb_in1k"
    assert provenance["revision"] == COMMIT
    assert provenance["sha256"] == hashlib.sha256(*weights.values()).hexdigest()

    server.shutdown()  # no network now: the Hub cache serves
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SPEC, "--name", "again")
    assert code == 0, err
    assert Bundle.load("again", home).meta.provenance["sha256"] == provenance["sha256"]


@pytest.mark.parametrize("broken", ["truncated", "offline"])
def test_a_broken_hub_download_stores_no_model(
    broken: str, home: Workspace, weights: dict[str, bytes], tmp_path: Path, monkeypatch, capsys
) -> None:
    server = _serve(monkeypatch, _hub(weights, cut=True))
    if broken == "offline":
        server.shutdown()
        server.server_close()
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SPEC)
    assert code == 2 and f"`lumos models pull {SPEC} --from FILE`" in err, err
    assert "Traceback" not in err and not list((tmp_path / "ws" / "models").glob("*"))
    snapshots = tmp_path / "hub" / "models--timm--mobilenetv3_small_050.lamb_in1k" / "snapshots"
    assert not list(snapshots.rglob("model.safetensors"))


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A user's timm-format repository, as timm's own ``save_for_hf`` writes one: a
    three-class network with its class names and timm's preprocessing in ``config.json``."""
    folder = tmp_path_factory.mktemp("repository")
    net = timm.create_model("mobilenetv3_small_050", num_classes=3)
    save_for_hf(net, str(folder), model_config={"label_names": NAMES}, safe_serialization=True)
    return {f"acme/bugs/{p.name}": p.read_bytes() for p in folder.iterdir()}


def test_a_timm_repository_on_the_hub_is_pulled_with_its_config(
    home: Workspace, repository: dict[str, bytes], monkeypatch, capsys
) -> None:
    _serve(monkeypatch, _hub(repository))
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", "hf-hub:acme/bugs")
    assert code == 0, err
    bundle = Bundle.load("acme-bugs", home)
    assert bundle.spec.name == "timm:mobilenetv3_small_050" and bundle.labels == NAMES
    pre = bundle.preprocessing
    assert (pre.size, pre.resize_shorter, pre.interpolation) == ((224, 224), 256, "bicubic")
    assert bundle.meta.provenance["url"].endswith("/acme/bugs")


@pytest.mark.parametrize(
    ("left_out", "message"),
    [
        ("model.safetensors", "holds no weights (model.safetensors or pytorch_model.bin)"),
        ("config.json", "hf-hub:acme/bugs: no timm config.json"),
    ],
)
def test_a_hub_repository_without_weights_or_config_stores_nothing(
    left_out: str,
    message: str,
    home: Workspace,
    repository: dict[str, bytes],
    tmp_path: Path,
    monkeypatch,
    capsys,
) -> None:
    files = {k: v for k, v in repository.items() if not k.endswith(left_out)}
    _serve(monkeypatch, _hub(files))
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", "hf-hub:acme/bugs")
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not list((tmp_path / "ws" / "models").glob("*"))
