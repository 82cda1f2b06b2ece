"""No side doors into `lumos ui`: other sites, other host names, huge bodies, framing."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from helpers import colour_folders, running_server
from lumos.access import ServerError, check_exposure
from lumos.data import list_datasets
from lumos.jobs import create_job, open_job
from lumos.web.app import create_app
from lumos.web.settings import WebSettings
from lumos.workspace import Workspace

EVIL = "http://evil.example:8000"


@pytest.fixture
def server(workspace: Workspace, tmp_path: Path):
    settings = WebSettings(
        workspace, roots=[tmp_path], run_jobs=False, max_upload_bytes=1 << 20,
        allowed_hosts=["lumos.lan"],
    )  # fmt: skip
    with running_server(create_app(settings)) as (url, _):
        yield url


def _import_form(source: Path) -> dict[str, str]:
    return {"name": "colours", "source": str(source), "overwrite": "true"}


def test_a_form_posted_from_another_site_changes_nothing(
    server: str, tmp_path: Path, workspace: Workspace
) -> None:
    source = colour_folders(tmp_path / "src")
    for headers in ({"Origin": EVIL}, {"Referer": f"{EVIL}/page.html"}, {"Origin": "null"}, {}):
        answer = httpx.post(f"{server}/api/datasets", data=_import_form(source), headers=headers)
        assert answer.status_code == 403, answer.text
        assert "cross-site" in answer.json()["error"] or "x-lumos-request" in answer.json()["error"]
    assert list_datasets(workspace) == []
    own = httpx.post(
        f"{server}/api/datasets", data=_import_form(source), headers={"Origin": server}
    )
    assert own.status_code == 202, own.text


def test_a_no_cors_fetch_from_another_site_does_not_abort_a_job(
    server: str, workspace: Workspace
) -> None:
    job = create_job(workspace, "import", {"source": "x", "name": "x", "options": {}})
    answer = httpx.post(
        f"{server}/api/jobs/{job.id}/abort", headers={"Origin": EVIL, "Content-Type": "text/plain"}
    )
    assert answer.status_code == 403
    assert open_job(workspace, job.id).state == "queued"
    assert httpx.post(f"{server}/api/jobs/{job.id}/abort").status_code == 200  # curl, a script
    assert open_job(workspace, job.id).state == "aborted"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_foreign_host_name_is_refused(server: str, method: str) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 still names evil.example."""
    answer = httpx.request(method, f"{server}/api/datasets", headers={"Host": "evil.example"})
    assert answer.status_code == 400
    assert "host 'evil.example' is not served here" in answer.json()["error"]
    port = urlsplit(server).port
    for name in ("localhost", f"localhost:{port}", "lumos.lan", f"[::1]:{port}"):
        assert httpx.get(f"{server}/api/datasets", headers={"Host": name}).status_code == 200


def _raw_request(server: str, head: str, body_chunks: int = 0) -> tuple[int, int]:
    """Send ``head`` (and a chunked multipart upload of up to ``body_chunks`` chunks of
    64 KiB until the server answers); returns the status and the chunks sent."""
    parts = urlsplit(server)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=600) as s:
        s.sendall(head.encode())
        if body_chunks:
            part = (
                b'--x\r\nContent-Disposition: form-data; name="archive"; filename="a.zip"\r\n'
                b"Content-Type: application/zip\r\n\r\n"
            )
            s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        s.settimeout(0.05)
        answer = b""
        for _ in range(body_chunks):
            try:
                answer += s.recv(4096)
                break
            except TimeoutError:
                pass
            try:
                s.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
            except OSError:  # the server closed the connection after answering
                break
            sent += 1
        s.settimeout(600)  # the answer, however loaded the machine; a hang fails
        while b"\r\n" not in answer:
            answer += s.recv(4096)
    return int(answer.split()[1]), sent


def test_a_huge_declared_body_is_refused_before_it_is_sent(server: str) -> None:
    head = (
        "POST /api/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Lumos-Request: 1\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 2147483648\r\n\r\n"
    )
    status, _ = _raw_request(server, head)  # its answer came with no byte of the body sent
    assert status == 413


def test_a_chunked_body_is_cut_off_at_the_cap(server: str, workspace: Workspace) -> None:
    head = (
        "POST /api/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Lumos-Request: 1\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, sent = _raw_request(server, head, body_chunks=400)  # 25 MiB against a 2 MiB cap
    assert status == 413 and sent < 100  # answered at the cap, not after reading it all
    uploads = workspace.root / "uploads"
    assert not uploads.exists() or not any(uploads.rglob("*.*"))


def test_pages_cannot_be_framed(server: str) -> None:
    answer = httpx.get(f"{server}/")
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("token", [" " * 16, "short", "has spaces in the middle of it"])
def test_a_weak_token_is_refused(token: str) -> None:
    with pytest.raises(ServerError, match="at least 16 characters long, without spaces"):
        check_exposure("0.0.0.0", token)
