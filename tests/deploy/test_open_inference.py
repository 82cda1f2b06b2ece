"""The Open Inference Protocol (KServe v2) on `lumos serve`, spoken by the real tritonclient."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from helpers import lenet_workspace, running_server
from lumos.data import Dataset
from lumos.deploy import Bundle
from lumos.deploy.runtime import Predictor
from lumos.deploy.serve import ServeSettings, create_server
from lumos.tasks.classification.result import probabilities as class_probabilities
from lumos.tasks.inputs import network_input, preprocess
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace]]:
    workspace = lenet_workspace(tmp_path_factory.mktemp("v2") / "workspace")
    predictor = Predictor(Bundle.load("lenet", workspace))
    with running_server(create_server(predictor, ServeSettings(max_delay_ms=2))) as (url, _):
        yield url, workspace


def _pngs(workspace: Workspace, count: int) -> tuple[list[bytes], list[str]]:
    test = Dataset.open("digits", workspace).split("test")
    files = []
    for image in test.images(list(range(count))):
        buffer = io.BytesIO()
        Image.fromarray(image[:, :, 0]).save(buffer, format="PNG")
        files.append(buffer.getvalue())
    return files, [test.classes[i] for i in test.labels()[:count]]


def test_health_and_metadata_through_tritonclient(served, httpclient) -> None:
    url, _ = served
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("lenet") and client.is_model_ready("lenet", "1")
    assert not client.is_model_ready("other")
    server = client.get_server_metadata()
    assert server["name"] == "lumos" and "binary_tensor_data" in server["extensions"]
    model = client.get_model_metadata("lenet")
    inputs = {i["name"]: (i["datatype"], i["shape"]) for i in model["inputs"]}
    assert inputs == {"images": ("FP32", [-1, 1, 28, 28]), "image_bytes": ("BYTES", [-1])}
    assert model["outputs"][0] == {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}
    with pytest.raises(httpclient.InferenceServerException, match="no model 'other'"):
        client.get_model_metadata("other")


@pytest.mark.parametrize("binary", [True, False])
def test_infer_tensors_and_image_files_as_lumos_predicts(served, httpclient, binary: bool) -> None:
    url, workspace = served
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    bundle = Bundle.load("lenet", workspace)
    files, truth = _pngs(workspace, 6)
    batch = network_input([preprocess(f, bundle, "x") for f in files], bundle).numpy()
    tensors = httpclient.InferInput("images", list(batch.shape), "FP32")
    tensors.set_data_from_numpy(batch, binary_data=binary)
    outputs = [
        httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("probabilities", "labels")
    ]
    result = client.infer("lenet", [tensors], outputs=outputs, request_id="r1")
    probabilities = result.as_numpy("probabilities")
    expected = class_probabilities(Predictor(bundle).outputs(batch)[0], multi_label=False)
    assert probabilities.shape == (6, 10) and np.allclose(probabilities, expected, atol=1e-5)
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("labels")]
    assert labels == [bundle.labels[i] for i in expected.argmax(1)]
    assert sum(a == b for a, b in zip(labels, truth, strict=True)) >= 5
    encoded = httpclient.InferInput("image_bytes", [6], "BYTES")
    encoded.set_data_from_numpy(np.array(files, dtype=object), binary_data=True)
    by_file = client.infer("lenet", [encoded], outputs=outputs).as_numpy("probabilities")
    assert np.allclose(by_file, expected, atol=1e-4)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda h: _input(h, "images", np.zeros((1, 3, 28, 28), np.float32)),
            "must be FP32 \\[N, 1, 28, 28\\]",
        ),
        (
            lambda h: _input(h, "images", np.zeros((1, 1, 28, 28), np.float64), "FP64"),
            "must be FP32",
        ),
        (
            lambda h: _input(h, "pixels", np.zeros((1, 1, 28, 28), np.float32)),
            "inputs are 'images'",
        ),
        (
            lambda h: _input(h, "image_bytes", np.array([b"not an image"], dtype=object), "BYTES"),
            "image 0",
        ),
    ],
)
def test_bad_tensors_are_refused_in_the_protocols_shape(
    served, httpclient, build, message: str
) -> None:
    url, _ = served
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    with pytest.raises(httpclient.InferenceServerException, match=message):
        client.infer("lenet", [build(httpclient)])


def _input(httpclient, name: str, array: np.ndarray, kind: str = "FP32") -> object:
    tensor = httpclient.InferInput(name, list(array.shape), kind)
    tensor.set_data_from_numpy(array, binary_data=True)
    return tensor


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"{", {}, "not valid JSON"),
        (b'{"inputs": 3}', {}, "needs 'inputs'"),
        (
            b'{"inputs": [{"name": "images", "shape": [1], "datatype": "FP32", "data": [1, 2]}]}',
            {},
            "does not hold FP32",
        ),
        (
            b'{"inputs": [{"name": "images", "shape": [1], "datatype": "COMPLEX", "data": [1]}]}',
            {},
            "datatype 'COMPLEX'",
        ),
        (b'{"inputs": []}xx', {"Inference-Header-Content-Length": "99"}, "does not fit the body"),
    ],
)
def test_malformed_requests_get_one_line_errors(
    served, body: bytes, headers: dict, message: str
) -> None:
    url, _ = served
    answer = httpx.post(f"{url}/v2/models/lenet/infer", content=body, headers=headers)
    assert answer.status_code == 400 and set(answer.json()) == {"error"}
    assert message in answer.json()["error"]


def test_image_files_as_base64_in_plain_json(served) -> None:
    import base64

    url, workspace = served
    files, _ = _pngs(workspace, 2)
    request = {"id": "json", "inputs": [{"name": "image_bytes", "shape": [2], "datatype": "BYTES",
               "data": [base64.b64encode(f).decode() for f in files]}]}  # fmt: skip
    answer = httpx.post(f"{url}/v2/models/lenet/versions/1/infer", json=request).json()
    assert answer["id"] == "json" and answer["model_name"] == "lenet"
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["probabilities"]["shape"] == [2, 10] and len(outputs["labels"]["data"]) == 2
    header = {"inputs": [{"name": "image_bytes", "shape": [1], "datatype": "BYTES",
                          "parameters": {"binary_data_size": 6}}]}  # fmt: skip
    text = json.dumps(header).encode()
    broken = httpx.post(
        f"{url}/v2/models/lenet/infer",
        content=text + b"\x09\x00\x00\x00ab",  # says 9 bytes, holds 2
        headers={"Inference-Header-Content-Length": str(len(text))},
    )
    assert broken.status_code == 400 and "ends inside an element" in broken.json()["error"]


def _count(url: str, status: str) -> float:
    found = re.search(
        rf'^lumos_requests_total{{model="",status="{status}"}} (\S+)$',
        httpx.get(f"{url}/metrics").text,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


def test_unknown_routes_and_methods_answer_in_the_error_shape_and_are_counted(served) -> None:
    url, _ = served
    before = _count(url, "404"), _count(url, "405")
    missing = httpx.get(f"{url}/v3/nothing")
    wrong = httpx.delete(f"{url}/v1/predict")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    assert wrong.status_code == 405 and wrong.json() == {"error": "Method Not Allowed"}
    assert (_count(url, "404"), _count(url, "405")) == (before[0] + 1, before[1] + 1)
