"""The real Triton Inference Server, from NVIDIA's nvidia-pytriton wheel in `.venv-triton`
(`make test` installs it), started on a model repository for a test."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

VENV = Path(os.environ.get("LUMOS_TRITON_VENV", Path(__file__).parents[1] / ".venv-triton"))
SHIM = Path(__file__).parent / "fixtures" / "triton_onnxruntime" / "model.py"


def _distribution() -> tuple[Path, Path]:
    """(pytriton's tritonserver folder, its shared libraries), or skip saying why."""
    found = sorted(VENV.glob("lib/python3*/site-packages/pytriton/tritonserver/bin/tritonserver"))
    if not found:
        pytest.skip(f"no Triton server in {VENV} (`make triton` installs nvidia-pytriton)")
    server = found[0].parents[1]
    return server, server.parents[1] / "nvidia_pytriton.libs"


def _backends(server: Path, folder: Path) -> Path:
    """Triton's Python backend with the stub of the venv's Python, and the ONNX Runtime shim."""
    version = server.parents[2].name.removeprefix("python")
    backends = folder / "backends"
    shutil.copytree(server / "backends", backends)
    stub = server / "python_backend_stubs" / version / "triton_python_backend_stub"
    shutil.copy(stub, backends / "python" / stub.name)
    (backends / "onnxruntime").mkdir()
    shutil.copy(SHIM, backends / "onnxruntime" / "model.py")
    return backends


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@contextlib.contextmanager
def triton_server(repository: Path, scratch: Path, timeout: float = 90) -> Iterator[str]:
    """Triton serving ``repository`` on free loopback ports; yields its HTTP address
    (host:port). The server's log is shown if it does not become ready."""
    import tritonclient.http as httpclient

    server, libraries = _distribution()
    http, grpc, metrics = _free_ports(3)
    env = dict(os.environ, LD_LIBRARY_PATH=str(libraries))
    env["PATH"] = f"{VENV / 'bin'}:{env['PATH']}"
    log = (scratch / "tritonserver.log").open("w")
    process = subprocess.Popen(
        [
            str(server / "bin" / "tritonserver"),
            f"--model-repository={repository}",
            f"--backend-directory={_backends(server, scratch)}",
            f"--http-port={http}",
            f"--grpc-port={grpc}",
            f"--metrics-port={metrics}",
            "--http-address=127.0.0.1",
            "--grpc-address=127.0.0.1",
            "--allow-metrics=false",
            "--exit-on-error=true",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"127.0.0.1:{http}"
    try:
        client = httpclient.InferenceServerClient(url)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(Exception):
                if client.is_server_ready():
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                sys.stderr.write((scratch / "tritonserver.log").read_text())
                pytest.fail("Triton did not become ready (its log is above)")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
