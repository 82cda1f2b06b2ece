"""`lumos serve` over its own routes and over the Open Inference Protocol, under the same load.

The model: LeNet-5 on 28x28 grayscale (untrained: speed does not depend on weights), whose
server is HTTP-bound, so the protocols' own costs show. ``lumos serve`` runs in its own
process; a second process keeps ``--clients`` keep-alive connections busy with the same
PNG as fast as they are answered:

(a) ``native``: multipart uploads to ``/v1/predict``;
(b) ``v2``: ``/v2/models/NAME/infer`` with the file as a BYTES ``image_bytes`` tensor in
    the binary tensor extension, as tritonclient sends it (the requests are built once, so
    both runs measure the server, not a client library);
(c) ``tritonclient``: the real ``tritonclient.http`` client, ``--clients`` requests in
    flight through its own connection pool (``async_infer``), counting failed requests.

Prints requests/s, p50 and p99 per run, failures, and v2 / native (goal: within 10%).

    python benchmarks/serve_protocols.py [--clients 32] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from deployment import load_with, native_request, serving
from lumos.deploy import Bundle, save_bundle
from lumos.models import NetworkSpec
from lumos.workspace import Workspace

MODEL = "lenet"


def v2_request(host: str, image: bytes) -> bytes:
    """An infer request as tritonclient builds it: a JSON header, then the BYTES tensor."""
    header = json.dumps({
        "inputs": [{"name": "image_bytes", "datatype": "BYTES", "shape": [1],
                    "parameters": {"binary_data_size": len(image) + 4}}],
        "outputs": [{"name": "labels", "parameters": {"binary_data": False}}],
    }).encode()  # fmt: skip
    body = header + struct.pack("<I", len(image)) + image
    head = (
        f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/octet-stream\r\n"
        f"Inference-Header-Content-Length: {len(header)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def tritonclient_load(url: str, image: bytes, clients: int, requests: int) -> dict:
    """``requests`` infers through tritonclient, ``clients`` in flight at a time."""
    import tritonclient.http as http

    client = http.InferenceServerClient(url.removeprefix("http://"), concurrency=clients)
    files = http.InferInput("image_bytes", [1], "BYTES")
    files.set_data_from_numpy(np.array([image], dtype=object))
    latencies, failures = [], 0
    start = time.perf_counter()
    for first in range(0, requests, clients):
        sent = [(time.perf_counter(), client.async_infer(MODEL, [files]))
                for _ in range(min(clients, requests - first))]  # fmt: skip
        for began, pending in sent:
            try:
                pending.get_result()
            except Exception:  # the client raises its own errors for failed requests
                failures += 1
            latencies.append(time.perf_counter() - began)
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {"throughput": len(latencies) / wall, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "failures": failures,
            "requests": len(latencies)}  # fmt: skip


def in_own_process(kind: str, url: str, image: Path, clients: int, requests: int) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--client", kind, "--url", url, "--image", str(image),
         "--clients", str(clients), "--requests", str(requests)],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode:
        raise RuntimeError(f"the {kind} load failed: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)


def client(args: argparse.Namespace) -> None:
    image = args.image.read_bytes()
    host = args.url.removeprefix("http://").split(":")[0]
    if args.client == "tritonclient":
        found = tritonclient_load(args.url, image, args.clients, args.requests)
    else:
        build = native_request if args.client == "native" else v2_request
        found = asyncio.run(load_with(args.url, build(host, image), args.clients, args.requests))
    print(json.dumps(found))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client(args)
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        bundle = Bundle.untrained(NetworkSpec.resolve("lenet5", 10, 1, (28, 28)))
        save_bundle(MODEL, meta=bundle.meta.model_copy(update={"name": MODEL}),
                    weights=bundle.weights, workspace=Workspace(home))  # fmt: skip
        image = home / "request.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), np.uint8)).save(image)
        runs = {}
        with serving(home, MODEL) as url:
            for kind in ("native", "v2", "tritonclient"):
                in_own_process(kind, url, image, args.clients, args.clients * 4)  # warm-up
                runs[kind] = r = in_own_process(kind, url, image, args.clients, args.requests)
                print(f"{kind:<13} {r['throughput']:7.1f} req/s  p50 {r['p50']:6.1f} ms  "
                      f"p99 {r['p99']:6.1f} ms  failed {r['failures']}/{r['requests']}",
                      flush=True)  # fmt: skip
    ratio = runs["v2"]["throughput"] / runs["native"]["throughput"]
    print(f"v2 / native: {ratio:.3f} (goal: within 10%: {'met' if ratio >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()
