"""The workbench server's goals, measured against a real ``lumos ui`` on loopback.

(a) ``api``: latency of ``GET /api/jobs`` while the server is idle (the baseline) and while
    one training job keeps both cores busy; prints p50/p95/max and the busy/idle ratio.
    Goal: p95 under 100 ms while busy.
(b) ``explorer``: a 60,000-image, MNIST-sized dataset paged through as the explorer page
    does: one records request and its 60 thumbnails per page, for pages across the set,
    with and without a class filter. Goal: under 300 ms per page.
(c) ``chart``: a job page in headless Chromium; epoch records are appended to a running
    job's metrics log and the time until the chart shows each is measured. Goal: under 2 s.
(d) ``start``: a job queued through the API (an import, a one-epoch training, a save of
    that training as a model), the time from the click until the job is running, median of
    ``--jobs``, and how long the save's answer takes. Goals: under 2 s; under 1 s.

    python benchmarks/web_server.py [--only api|explorer|chart|start] [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

from lumos.data import import_dataset
from lumos.jobs import create_job, open_job, set_state
from lumos.train import Recipe
from lumos.train.run import queue_training
from lumos.workspace import Workspace
from machine import print_machine


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(values, share))


def describe(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {percentile(ms, 50):6.1f} ms  p95 {percentile(ms, 95):6.1f} ms  "
        f"max {max(ms):6.1f} ms  (n={len(ms)})"
    )


@contextmanager
def server(root: Path) -> Iterator[str]:
    """``lumos ui`` in its own process on a free port, with ``root`` as workspace."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LUMOS_HOME": str(root / "workspace")}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "lumos"), "ui", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/api/jobs", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


def timed_gets(client: httpx.Client, path: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        times.append(time.perf_counter() - start)
    return times


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def mnist_sized(folder: Path, count: int) -> Path:
    """An MNIST layout (IDX files) of ``count`` random 28x28 digits in 10 classes."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte", rng.integers(0, 10, count))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 10))
    return folder


def bench_api(root: Path, requests: int) -> None:
    workspace = Workspace(root / "workspace").ensure()
    import_dataset("sample:digits", "digits", workspace=workspace)
    for _ in range(20):  # a realistic list: finished jobs with metrics
        import_dataset("sample:digits", "digits", workspace=workspace, overwrite=True)
    with server(root) as url, httpx.Client(base_url=url) as client:
        timed_gets(client, "/api/jobs", 20)  # warm up
        idle = timed_gets(client, "/api/jobs", requests)
        recipe = Recipe(dataset="digits", network="resnet18", epochs=200, batch_size=64)
        job = queue_training(recipe, workspace)
        while not (job.folder / "metrics.jsonl").is_file():
            time.sleep(0.2)
        busy = timed_gets(client, "/api/jobs", requests)
        state = open_job(workspace, job.id).state
        client.post(f"/api/jobs/{job.id}/abort")
    print("GET /api/jobs (21 jobs listed), sequential requests on loopback")
    print(f"  idle:                      {describe(idle)}")
    print(f"  training on both cores:    {describe(busy)}   (job {state} throughout)")
    print(f"  p95 busy / idle: {percentile(busy, 95) / percentile(idle, 95):.2f}")


def bench_explorer(root: Path, pages: int) -> None:
    workspace = Workspace(root / "workspace").ensure()
    start = time.perf_counter()
    import_dataset(mnist_sized(root / "mnist", 60_000), "mnist", workspace=workspace)
    print(f"imported 60,010 images in {time.perf_counter() - start:.1f} s")
    rng = np.random.default_rng(1)
    with server(root) as url, httpx.Client(base_url=url) as client:
        for label, query in (("all images", {}), ("class '7'", {"class": "7"})):
            client.get("/api/datasets/mnist/records", params=query).raise_for_status()  # warm up
            total = client.get("/api/datasets/mnist/records", params=query).json()["pages"]
            listing, whole = [], []
            for page in rng.integers(0, total, pages).tolist():
                t0 = time.perf_counter()
                result = client.get(
                    "/api/datasets/mnist/records", params={**query, "page": page}
                ).json()
                t1 = time.perf_counter()
                for record in result["records"]:
                    client.get(
                        f"/api/datasets/mnist/records/{record['index']}.png"
                    ).raise_for_status()
                listing.append(t1 - t0)
                whole.append(time.perf_counter() - t0)
            print(f"explorer, {label} ({total} pages of 60):")
            print(f"  records request:           {describe(listing)}")
            print(f"  page with 60 thumbnails:   {describe(whole)}  (fetched one after another)")


def bench_chart(root: Path, epochs: int) -> None:
    from playwright.sync_api import sync_playwright

    workspace = Workspace(root / "workspace").ensure()
    import_dataset("sample:digits", "digits", workspace=workspace)
    job = create_job(
        workspace, "train", Recipe(dataset="digits", network="lenet5").model_dump(mode="json")
    )
    set_state(workspace, job, "running")  # this process plays the worker
    metrics = job.folder / "metrics.jsonl"
    latencies = []
    with server(root) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page()
        page.goto(f"{url}/jobs/{job.id}")
        page.wait_for_function(
            "() => document.getElementById('job-state').textContent === 'running'"
        )
        for epoch in range(1, epochs + 1):
            # epochs end at any moment of the page's polling cycle
            time.sleep(float(np.random.default_rng(epoch).uniform(0.1, 1.0)))
            loss = 1 / epoch
            record = {
                "kind": "epoch", "epoch": epoch, "step": epoch * 10, "elapsed": epoch,
                "train_loss": loss, "lr": 0.01, "val_loss": loss, "val_accuracy": 1 - loss,
            }  # fmt: skip
            with metrics.open("a") as f:
                f.write(json.dumps(record) + "\n")
            start = time.perf_counter()
            page.wait_for_function(
                f"() => document.getElementById('score-chart').data?.[0]?.x.length === {epoch}",
                polling=10,
            )
            latencies.append(time.perf_counter() - start)
        browser.close()
    set_state(workspace, job, "done")
    print(f"job page chart, new epoch written -> drawn in Chromium: {describe(latencies)}")


def until_running(client: httpx.Client, job_id: str) -> None:
    while client.get(f"/api/jobs/{job_id}").json()["state"] == "queued":
        time.sleep(0.02)


def until_ended(client: httpx.Client, job_id: str) -> str:
    while (state := client.get(f"/api/jobs/{job_id}").json()["state"]) in ("queued", "running"):
        time.sleep(0.05)
    return state


def bench_start(root: Path, jobs: int) -> None:
    """Click -> running for jobs queued one after another through the API."""
    workspace = Workspace(root / "workspace").ensure()
    import_dataset("sample:digits", "digits", workspace=workspace)
    headers = {"X-Lumos-Request": "1"}
    recipe = {"dataset": "digits", "network": "lenet5", "epochs": 1, "batch_size": 64}
    clicks = {
        "import": lambda c, i: c.post(
            "/api/datasets", data={"name": f"copy{i}", "source": "sample:digits"}
        ),
        "train": lambda c, i: c.post("/api/train", json={"recipe": recipe}),
        "save": lambda c, i: c.post("/api/models", json={"job": trained[-1], "name": f"m{i}"}),
    }
    trained: list[str] = []
    with server(root) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for kind, click in clicks.items():
            waits, answers = [], []
            for index in range(jobs):
                start = time.perf_counter()
                answer = click(client, index)
                answers.append(time.perf_counter() - start)
                answer.raise_for_status()
                job_id = answer.json()["id"]
                until_running(client, job_id)
                waits.append(time.perf_counter() - start)
                state = until_ended(client, job_id)
                assert state == "done", f"{kind} job {job_id} ended {state}"
                if kind == "train":
                    trained.append(job_id)
            print(f"{kind} job, click -> answer:    {describe(answers)}")
            print(f"{kind} job, click -> running:   {describe(waits)}")
            print("  each (s): " + " ".join(f"{w:.2f}" for w in waits))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["api", "explorer", "chart", "start"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    print_machine()
    for name, run in (
        ("api", lambda root: bench_api(root, args.requests)),
        ("explorer", lambda root: bench_explorer(root, args.pages)),
        ("chart", lambda root: bench_chart(root, args.epochs)),
        ("start", lambda root: bench_start(root, args.jobs)),
    ):
        if args.only in (None, name):
            with tempfile.TemporaryDirectory() as scratch:
                run(Path(scratch))


if __name__ == "__main__":
    main()
