"""``lumos serve`` over real HTTP: answers like `lumos predict`, batches, refuses bad requests,
sheds load with 429, and finishes what it accepted when it shuts down."""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from helpers import digit_png, lenet_workspace, run_cli, running_server
from lumos.data import Dataset
from lumos.deploy import Bundle
from lumos.deploy.runtime import Predictor, load_predictor, predictor_for
from lumos.deploy.serve import ServeSettings, create_server
from lumos.workspace import Workspace

TOKEN = "a-long-serving-token"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return lenet_workspace(tmp_path_factory.mktemp("serve") / "workspace")


@pytest.fixture(scope="module", name="digit_png")
def digit_upload(home: Workspace) -> tuple[bytes, str]:
    return digit_png(home)


def _metric(text: str, name: str) -> float:
    return sum(
        float(v) for v in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    )


def test_export_optimise_bench_serve_gives_predicts_answer(
    home: Workspace, digit_png, tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    assert run_cli(monkeypatch, capsys, "export", "lenet")[0] == 0
    assert run_cli(monkeypatch, capsys, "optimize", "lenet", "--precision", "int8")[0] == 0
    code, out, _ = run_cli(
        monkeypatch, capsys, "bench", "lenet", "--batch-sizes", "1", "--seconds", "0",
        "--out", str(tmp_path / "bench"),
    )  # fmt: skip
    assert code == 0 and "onnxruntime:int8" in out
    image = tmp_path / "digit.png"
    image.write_bytes(digit_png[0])
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "lenet", str(image), "--format", "json")
    expected = json.loads(out)[0]["labels"]
    bundle = Bundle.load("lenet", home)
    app = create_server(predictor_for(bundle, "onnxruntime:int8"), ServeSettings())
    with running_server(app) as (url, _):
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
        assert httpx.get(f"{url}/ready").json()["ready"] is True
        upload = httpx.post(f"{url}/v1/predict?top=3", files={"file": ("digit.png", digit_png[0])})
        assert upload.status_code == 200
        answer = upload.json()["predictions"][0]
        assert answer["labels"] == expected == [digit_png[1]] and len(answer["top"]) == 3
        encoded = base64.b64encode(digit_png[0]).decode()
        batch = httpx.post(f"{url}/v1/predict", json={"images": [encoded, encoded]})
        assert [p["labels"] for p in batch.json()["predictions"]] == [expected, expected]
        metrics = httpx.get(f"{url}/metrics").text
    assert _metric(metrics, "lumos_requests_total") == 2
    assert _metric(metrics, "lumos_batch_size_sum") == 3
    assert "lumos_request_seconds_bucket" in metrics


def test_bad_requests_get_4xx_and_one_line(home: Workspace, digit_png):
    app = create_server(Predictor(Bundle.load("lenet", home)), ServeSettings(max_body_bytes=4096))
    with running_server(app) as (url, _):

        def post(**kwargs):
            return httpx.post(f"{url}/v1/predict", **kwargs)

        cases = [
            (post(content=b"x", headers={"content-type": "text/plain"}), 415, "multipart/form"),
            (post(files={"file": ("a.png", b"garbage bytes")}), 400, "a.png: not an image"),
            (post(files={"file": ("e.png", b"")}), 400, "e.png: empty file"),
            (post(files={"file": ("big.png", b"0" * 10_000)}), 413, "over 4,096 bytes"),
            (post(json={"image": "%%%"}), 400, "image 0: not valid base64"),
            (post(json={"picture": "abc"}), 422, '{"image": base64}'),
            (post(json={"images": [1, 2]}), 422, "base64 strings"),
            (post(content=b"{", headers={"content-type": "application/json"}), 400, "valid JSON"),
            (post(data={"a": "b"}), 415, "x-www-form-urlencoded"),
            (post(files={"note": (None, "text only")}), 422, "holds no image"),
            (post(files={"file": ("d.png", digit_png[0])}, params={"top": 0}), 422, "at least 1"),
        ]  # fmt: skip
        for response, status, message in cases:
            assert response.status_code == status, response.text
            assert message in response.json()["error"]
            assert "\n" not in response.json()["error"]
        assert post(files={"file": ("d.png", digit_png[0])}).status_code == 200  # still serving


def test_a_failing_model_answers_500_in_one_line(home: Workspace, digit_png, monkeypatch):
    predictor = Predictor(Bundle.load("lenet", home))
    monkeypatch.setattr(predictor, "outputs", lambda batch: 1 / 0)
    with running_server(create_server(predictor)) as (url, _):
        answer = httpx.post(f"{url}/v1/predict", files={"file": ("d.png", digit_png[0])})
        assert answer.status_code == 500
        assert answer.json() == {"error": "prediction failed: division by zero"}
        assert httpx.get(f"{url}/ready").status_code == 200  # the batcher lives on


def test_token_is_required_when_set(home: Workspace, digit_png):
    settings = ServeSettings(token=TOKEN)
    with running_server(create_server(Predictor(Bundle.load("lenet", home)), settings)) as (url, _):
        files = {"file": ("d.png", digit_png[0])}
        assert httpx.post(f"{url}/v1/predict", files=files).status_code == 401
        ok = httpx.post(
            f"{url}/v1/predict", files=files, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert ok.status_code == 200


def test_requests_arriving_together_run_as_one_batch(home: Workspace, digit_png):
    settings = ServeSettings(max_batch=16, max_delay_ms=200)
    with running_server(create_server(Predictor(Bundle.load("lenet", home)), settings)) as (url, _):
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(
                pool.map(
                    lambda _: (
                        httpx.post(
                            f"{url}/v1/predict", files={"file": ("d.png", digit_png[0])}, timeout=30
                        ).status_code
                    ),
                    range(16),
                )
            )
        metrics = httpx.get(f"{url}/metrics").text
    assert statuses == [200] * 16
    batches = _metric(metrics, "lumos_batch_size_count")
    assert _metric(metrics, "lumos_batch_size_sum") == 16 and batches <= 4


def test_flood_beyond_the_queue_gets_429_and_nothing_breaks(home: Workspace, digit_png):
    settings = ServeSettings(max_batch=1, max_delay_ms=0, max_queue=2)
    with running_server(create_server(Predictor(Bundle.load("lenet", home)), settings)) as (url, _):
        encoded = base64.b64encode(digit_png[0]).decode()
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            responses = list(
                pool.map(
                    lambda _: httpx.post(
                        f"{url}/v1/predict", json={"images": [encoded] * 8}, timeout=30
                    ),
                    range(64),
                )
            )
        statuses = {r.status_code for r in responses}
        assert statuses <= {200, 429} and 429 in statuses
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.headers["retry-after"] == "1" and "busy" in refused.json()["error"]
        assert httpx.get(f"{url}/ready").status_code == 200
        ok = httpx.post(f"{url}/v1/predict", files={"file": ("d.png", digit_png[0])})
        assert ok.status_code == 200


def test_shutdown_answers_requests_in_flight(home: Workspace, digit_png):
    # A long batching delay keeps the requests waiting inside the server when it is stopped.
    settings = ServeSettings(max_batch=64, max_delay_ms=1500)
    app = create_server(Predictor(Bundle.load("lenet", home)), settings)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        with running_server(app) as (url, _):
            futures = [
                pool.submit(
                    httpx.post,
                    f"{url}/v1/predict",
                    files={"file": ("d.png", digit_png[0])},
                    timeout=30,
                )
                for _ in range(8)
            ]
            deadline = time.monotonic() + 600
            batcher = app.state.repository.models["lenet"].batcher
            while batcher.pending < 8 and time.monotonic() < deadline:
                time.sleep(0.02)  # until all of them wait inside the server
        # leaving the block asked the server to exit and waited for it
        answers = [f.result() for f in futures]
    assert [a.status_code for a in answers] == [200] * 8
    assert all(a.json()["predictions"][0]["labels"] == [digit_png[1]] for a in answers)
    assert not batcher.running


def test_public_host_needs_a_token(home: Workspace, monkeypatch, capsys):
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    monkeypatch.delenv("LUMOS_TOKEN", raising=False)
    code, _, err = run_cli(monkeypatch, capsys, "serve", "lenet", "--host", "0.0.0.0")
    assert code == 2 and "give --token" in err


def test_answers_match_across_batch_sizes(home: Workspace):
    """A batch answered together gives what each image gets alone."""
    predictor = load_predictor(Bundle.load("lenet", home), "onnxruntime")
    images = Dataset.open("digits", home).split("test").images(np.arange(12))
    together = np.stack([share[0] for share in predictor.shares(images)])
    alone = np.stack([predictor.shares(images[i : i + 1])[0][0] for i in range(12)])
    assert np.abs(together - alone).max() < 1e-5


def test_a_served_model_is_not_removed_from_under_its_server(home: Workspace, monkeypatch, capsys):
    shutil.copytree(home.models_dir / "lenet", home.models_dir / "served")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = ["serve", "served", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-c", "from lumos.cli import main; main()", *command],
        env={**os.environ, "LUMOS_HOME": str(home.root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    break
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
            time.sleep(0.2)
        monkeypatch.setenv("LUMOS_HOME", str(home.root))
        code, _, err = run_cli(monkeypatch, capsys, "models", "rm", "served")
        assert (
            code == 2 and f"model 'served' is being served (lumos serve, pid {server.pid})" in err
        )
        assert Bundle.load("served", home).labels == Bundle.load("lenet", home).labels
    finally:
        server.terminate()
        server.wait(30)
    code, _, err = run_cli(monkeypatch, capsys, "models", "rm", "served")
    assert code == 0, err
    assert not (home.models_dir / "served").exists()
