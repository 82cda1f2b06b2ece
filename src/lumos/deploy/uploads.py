"""The images of an HTTP request to ``lumos serve``: multipart files or base64 JSON, with
their sizes and counts capped."""

from __future__ import annotations

import base64
import binascii
import json

from fastapi import Request

from lumos.deploy.repository import ServeError

MAX_IMAGES_PER_REQUEST = 64


async def images_of(request: Request, max_body: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each image in a multipart upload or a JSON body of base64 images."""
    declared = request.headers.get("content-length")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared is None and kind == "multipart/form-data":
        raise ServeError(411, "multipart uploads need a Content-Length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_body):
        raise ServeError(413, f"request body over {max_body:,} bytes")
    if kind == "multipart/form-data":
        form = await request.form(max_files=MAX_IMAGES_PER_REQUEST, max_part_size=max_body)
        files = [
            (v.filename or k, await v.read()) for k, v in form.multi_items() if hasattr(v, "read")
        ]
    elif kind == "application/json":
        files = _base64_images(await _capped_body(request, max_body))
    else:
        raise ServeError(
            415, "send images as multipart/form-data or JSON {\"image\": base64} "
            f"(got content type {kind or 'none'!r})",
        )  # fmt: skip
    if not files:
        raise ServeError(422, "the request holds no image")
    if len(files) > MAX_IMAGES_PER_REQUEST:
        raise ServeError(413, f"more than {MAX_IMAGES_PER_REQUEST} images in one request")
    return files


async def _capped_body(request: Request, cap: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise ServeError(413, f"request body over {cap:,} bytes")
    return bytes(body)


def _base64_images(body: bytes) -> list[tuple[str, bytes]]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ServeError(400, "the body is not valid JSON") from None
    if not isinstance(document, dict) or not ("image" in document or "images" in document):
        raise ServeError(422, 'JSON bodies are {"image": base64} or {"images": [base64, ...]}')
    encoded = [document["image"]] if "image" in document else document["images"]
    if not isinstance(encoded, list) or not all(isinstance(e, str) for e in encoded):
        raise ServeError(422, "images must be base64 strings")
    images = []
    for i, text in enumerate(encoded):
        try:
            images.append((f"image {i}", base64.b64decode(text, validate=True)))
        except (binascii.Error, ValueError):
            raise ServeError(400, f"image {i}: not valid base64") from None
    return images
