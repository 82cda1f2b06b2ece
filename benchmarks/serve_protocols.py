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

Each run gets a fresh server and a warm-up. Prints the median requests/s of ``--rounds``
alternated runs of (a) and (b) and one of (c), p50 and p99, failures, and v2 / native (goal:
within 10%).

    python benchmarks/serve_protocols.py [--clients 32] [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from deployment import in_own_process, load_with, native_request, serving
from lumos.deploy import Bundle, save_bundle
from lumos.models import NetworkSpec
from lumos.workspace import Workspace
from machine import print_machine

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


def generate(kind: str, url: str, image: Path, clients: int, requests: int) -> dict:
    return in_own_process(__file__, "--client", kind, "--url", url, "--image", str(image),
                          "--clients", str(clients), "--requests", str(requests))  # fmt: skip


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
    parser.add_argument("--rounds", type=int, default=3, help="native and v2 runs, alternated")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--image", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:  # a load generator: its JSON alone on stdout
        return client(args)
    print_machine()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        bundle = Bundle.untrained(NetworkSpec.resolve("lenet5", 10, 1, (28, 28)))
        save_bundle(MODEL, meta=bundle.meta.as_json(),
                    weights=bundle.weights, workspace=Workspace(home))  # fmt: skip
        image = home / "request.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), np.uint8)).save(image)
        runs: dict[str, list[dict]] = {"native": [], "v2": [], "tritonclient": []}
        # A fresh server per run: a second load on one server meets stalls (p99 ~350 ms)
        # whichever protocol it speaks, so each run starts alike.
        for kind in [*("native", "v2") * args.rounds, "tritonclient"]:
            with serving(home, MODEL) as url:
                generate(kind, url, image, args.clients, args.clients * 4)  # warm-up
                runs[kind].append(generate(kind, url, image, args.clients, args.requests))
    for kind, found in runs.items():
        rates = [r["throughput"] for r in found]
        print(f"{kind:<13} {statistics.median(rates):7.1f} req/s (median of "
              f"{', '.join(f'{r:.0f}' for r in rates)})  p50 "
              f"{statistics.median(r['p50'] for r in found):6.1f} ms  p99 "
              f"{max(r['p99'] for r in found):6.1f} ms  failed "
              f"{sum(r['failures'] for r in found)}/"
              f"{sum(r['requests'] for r in found)}")  # fmt: skip
    ratio = statistics.median(r["throughput"] for r in runs["v2"]) / statistics.median(
        r["throughput"] for r in runs["native"]
    )
    print(f"v2 / native: {ratio:.3f} (goal: within 10%: {'met' if ratio >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()
