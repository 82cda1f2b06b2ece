"""What a request's headers say of where it comes from, and the headers every answer carries
(no framing, no sniffing, a content security policy): the rules of :mod:`lumos.web.guard`."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers

MARKER = "x-lumos-request"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'{scripts}; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's API documentation page starts its viewer with an inline script.
_DOCS_PATHS = ("/docs",)
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def host_name(host: str) -> str:
    """The name part of a ``Host`` header: ``[::1]:5000`` -> ``::1``, ``a.b:80`` -> ``a.b``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def cross_site(headers: Headers, scheme: str, host: str) -> str | None:
    """Why a state-changing request may come from another site; None if it does not."""
    own = f"{scheme}://{host}".lower()
    for name in ("origin", "referer"):
        value = headers.get(name)
        if value is None:
            continue
        parts = urlsplit(value.strip())
        if f"{parts.scheme}://{parts.netloc}".lower() != own:
            return f"cross-site request refused ({name} {value.strip()!r} is not {own})"
        return None
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES and MARKER not in headers:
        return f"a form post needs the {MARKER} header (cross-site forms are refused)"
    return None


def _headers(scripts: str) -> list[tuple[bytes, bytes]]:
    policy = _POLICY.format(scripts=scripts).encode()
    return [*SECURITY_HEADERS, (b"content-security-policy", policy)]


_PAGE_HEADERS, _DOCS_HEADERS = _headers(""), _headers(" 'unsafe-inline'")


def headers_for(scope: MutableMapping[str, Any]) -> list[tuple[bytes, bytes]]:
    return _DOCS_HEADERS if scope.get("path", "").startswith(_DOCS_PATHS) else _PAGE_HEADERS
