"""The real Triton Inference Server, from NVIDIA's nvidia-pytriton wheel in `.venv-triton`
(`make test` installs it), started on a model repository for a test."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import reserved_ports
from needs import missing

VENV = Path(os.environ.get("LUMOS_TRITON_VENV", Path(__file__).parents[1] / ".venv-triton"))
SHIM = Path(__file__).parent / "fixtures" / "triton_onnxruntime" / "model.py"


def _distribution() -> tuple[Path, Path]:
    """(pytriton's tritonserver folder, its shared libraries), or :func:`missing`."""
    found = sorted(VENV.glob("lib/python3*/site-packages/pytriton/tritonserver/bin/tritonserver"))
    if not found:
        missing("triton", f"no Triton server in {VENV}")
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


@contextlib.contextmanager
def triton_server(repository: Path, scratch: Path, load: list[str]) -> Iterator[str]:
    """Triton serving ``repository`` over HTTP on a loopback port, its models loaded on
    request (``load`` at start); yields its address (host:port) once it is ready. Its log is
    shown if it ends before."""
    import tritonclient.http as httpclient

    server, libraries = _distribution()
    env = dict(os.environ, LD_LIBRARY_PATH=str(libraries))
    env["PATH"] = f"{VENV / 'bin'}:{env['PATH']}"
    log_path = scratch / "tritonserver.log"
    with reserved_ports(1) as [port], log_path.open("w") as log:
        command = [
            str(server / "bin" / "tritonserver"),
            f"--model-repository={repository}",
            f"--backend-directory={_backends(server, scratch)}",
            "--model-control-mode=explicit",
            *(f"--load-model={name}" for name in load),
            f"--http-port={port}",
            "--http-address=127.0.0.1",
            "--allow-grpc=false",
            "--allow-metrics=false",
            "--exit-on-error=true",
            "--exit-timeout-secs=2",  # not 30 s waiting for the tests' clients to hang up
        ]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"127.0.0.1:{port}"
        try:
            with contextlib.closing(httpclient.InferenceServerClient(url)) as client:
                while True:  # until it is ready or has ended: a loaded machine is slow, not wrong
                    with contextlib.suppress(Exception):
                        if client.is_server_ready():
                            break
                    if process.poll() is not None:
                        sys.stderr.write(log_path.read_text())
                        pytest.fail("Triton ended before it was ready (its log is above)")
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
