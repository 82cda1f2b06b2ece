"""Several models in one `lumos serve`: each with its own batcher and metrics, loaded and
unloaded through the Open Inference Protocol's repository API (the real tritonclient)."""

from __future__ import annotations

import re
import shutil

import httpx
import numpy as np
import pytest

from helpers import digit_png, lenet_workspace, run_cli, running_server
from lumos.deploy.runtime import WorkspaceModels
from lumos.deploy.serve import ServeSettings, create_server
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """``lenet`` and its copy ``twin``; ``spare`` is saved but not served at first."""
    workspace = lenet_workspace(tmp_path_factory.mktemp("models") / "workspace")
    for copy in ("twin", "spare"):
        shutil.copytree(workspace.models_dir / "lenet", workspace.models_dir / copy)
        meta = workspace.models_dir / copy / "bundle.json"
        meta.write_text(meta.read_text().replace('"name": "lenet"', f'"name": "{copy}"'))
    return workspace


@pytest.fixture(scope="module")
def digit(home: Workspace) -> tuple[bytes, str]:
    return digit_png(home)


def _counted(url: str, model: str, status: str = "200") -> float:
    text = httpx.get(f"{url}/metrics").text
    found = re.search(
        rf'^lumos_requests_total{{model="{model}",status="{status}"}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_two_models_answer_by_name_and_are_counted_apart(home: Workspace, digit) -> None:
    library = WorkspaceModels(home, "onnxruntime")
    predictors = [library.load("lenet"), library.load("twin")]
    with running_server(create_server(predictors, ServeSettings(), loader=library)) as (url, _):
        listed = httpx.get(f"{url}/v1/models").json()["models"]
        assert [m["name"] for m in listed] == ["lenet", "twin"]
        assert {m["task"] for m in listed} == {"classification"}
        for name in ("lenet", "twin", "twin"):
            answer = httpx.post(f"{url}/v1/models/{name}/predict", files={"f": ("d.png", digit[0])})
            assert answer.status_code == 200 and answer.json()["model"] == name
            assert answer.json()["predictions"][0]["labels"] == [digit[1]]
        unnamed = httpx.post(f"{url}/v1/predict", files={"f": ("d.png", digit[0])})
        assert unnamed.status_code == 404
        assert unnamed.json() == {
            "error": "this server has 2 models (lenet, twin): name one in the path, "
            "as /v1/models/NAME/predict"
        }
        missing = httpx.post(f"{url}/v1/models/nope/predict", files={"f": ("d.png", digit[0])})
        assert missing.status_code == 404 and "no model 'nope' is served" in missing.json()["error"]
        assert (_counted(url, "lenet"), _counted(url, "twin")) == (1, 2)
        metrics = httpx.get(f"{url}/metrics").text
        assert 'lumos_batch_size_count{model="twin"} 2.0' in metrics
        ready = httpx.get(f"{url}/ready").json()
        assert ready == {"ready": True, "models": {"lenet": True, "twin": True}}


def test_models_load_and_unload_through_the_repository_api(
    home: Workspace, httpclient, digit
) -> None:
    library = WorkspaceModels(home, "onnxruntime")
    app = create_server([library.load("lenet")], ServeSettings(), loader=library)
    with running_server(app) as (url, _):
        client = httpclient.InferenceServerClient(url.removeprefix("http://"))
        index = {m["name"]: m["state"] for m in client.get_model_repository_index()}
        assert index == {"lenet": "READY", "spare": "UNAVAILABLE", "twin": "UNAVAILABLE"}
        assert not client.is_model_ready("spare")
        client.load_model("spare")
        assert client.is_model_ready("spare")
        files = httpclient.InferInput("image_bytes", [1], "BYTES")
        files.set_data_from_numpy(np.array([digit[0]], dtype=object))
        labels = client.infer("spare", [files]).as_numpy("labels")
        assert [v.decode() for v in labels] == [digit[1]]
        markers = home.models_dir / "spare"
        assert list(markers.glob(".served-by-*"))  # `lumos models remove` refuses it now
        client.unload_model("spare")
        assert not client.is_model_ready("spare") and not list(markers.glob(".served-by-*"))
        with pytest.raises(
            httpclient.InferenceServerException, match="no model 'spare' version '1'"
        ):
            client.infer("spare", [files])
        with pytest.raises(httpclient.InferenceServerException, match="failed to load 'ghost'"):
            client.load_model("ghost")
        with pytest.raises(httpclient.InferenceServerException, match="no model 'ghost' is served"):
            client.unload_model("ghost")
        browser = httpx.post(
            f"{url}/v2/repository/models/spare/load", headers={"Origin": "http://evil.example"}
        )
        assert browser.status_code == 403 and "refused to browsers" in browser.json()["error"]
        bad = httpx.post(f"{url}/v2/repository/index", content=b"[1, 2")
        assert bad.status_code == 400 and bad.json() == {
            "error": "the request body is not valid JSON"
        }
        assert list(app.state.repository.models) == ["lenet"]


def test_serve_needs_models_or_all(home: Workspace, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    for args in ([], ["lenet", "--all"]):
        code, _, err = run_cli(monkeypatch, capsys, "serve", *args)
        assert code == 2 and "name the models to serve or ask for all of them, not both" in err
    code, _, err = run_cli(monkeypatch, capsys, "serve", "ghost")
    assert code == 2 and "ghost" in err and "Traceback" not in err
    empty = Workspace(home.root.parent / "empty-workspace").ensure()
    monkeypatch.setenv("LUMOS_HOME", str(empty.root))
    code, _, err = run_cli(monkeypatch, capsys, "serve", "--all")
    assert code == 2 and "the workspace has no saved model to serve" in err
