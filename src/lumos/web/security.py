"""The workbench's guards: paths confined to allowed roots, uploads checked (the access
token is :mod:`lumos.access`).

Uploads are written in chunks with a size cap; a zip is unpacked only after every member is
checked (no absolute or ``..`` paths, no links, limits on the unpacked size, the file count
and the compression ratio), so a crafted archive can neither write outside its folder nor
fill the disk.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from fastapi import UploadFile

from lumos.errors import DataError
from lumos.web.settings import WebSettings

CHUNK = 1 << 20
MAX_RATIO = 200  # unpacked / packed, per member: more looks like a zip bomb
IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class UploadTooLargeError(DataError):
    """An upload over the server's size cap (HTTP 413)."""


def confined(path: str, settings: WebSettings) -> Path:
    """``path`` resolved, if it lies under one of the allowed roots; else a DataError."""
    if not path or "\x00" in path:
        raise DataError(path or None, "no path given")
    resolved = Path(path).expanduser().resolve()
    if not any(resolved.is_relative_to(root) for root in settings.roots):
        allowed = ", ".join(str(r) for r in settings.roots)
        raise DataError(path, f"outside the folders this server may read ({allowed})")
    if not resolved.exists():
        raise DataError(path, "no such file or folder")
    return resolved


async def save_upload(upload: UploadFile, folder: Path, settings: WebSettings) -> Path:
    """Write ``upload`` into ``folder`` under its own (sanitised) name, within the size cap."""
    name = PurePosixPath((upload.filename or "upload").replace("\\", "/")).name
    if not name or name.startswith("."):
        raise DataError(upload.filename, "not a usable file name")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    written = 0
    with target.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            written += len(chunk)
            if written > settings.max_upload_bytes:
                out.close()
                target.unlink()
                raise UploadTooLargeError(
                    name, f"larger than this server accepts ({settings.max_upload_bytes:,} bytes)"
                )
            out.write(chunk)
    if written == 0:
        target.unlink()
        raise DataError(name, "empty upload")
    return target


def image_upload_suffix(upload: UploadFile) -> str:
    """The upload's suffix, if it names an image type; else a DataError."""
    suffix = PurePosixPath(upload.filename or "").suffix.lower()
    if suffix not in IMAGE_TYPES:
        raise DataError(
            upload.filename, f"not an image file (expected {', '.join(sorted(IMAGE_TYPES))})"
        )
    return suffix


def unpack_zip(archive: Path, settings: WebSettings) -> Path:
    """Unpack ``archive`` beside itself after checking every member; returns the folder, or
    the one folder it holds (zipping a folder puts it on top of everything)."""
    try:
        with zipfile.ZipFile(archive) as z:
            members = z.infolist()
            _check_members(archive, members, settings)
            folder = Path(tempfile.mkdtemp(prefix="unpacked-", dir=archive.parent))
            for member in members:
                target = folder.joinpath(*PurePosixPath(member.filename).parts)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(member) as source, target.open("wb") as out:
                    _copy_capped(source, out, member.file_size, archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise DataError(archive.name, f"not a readable zip archive ({e})") from None
    entries = [entry for entry in folder.iterdir() if not entry.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else folder


def _check_members(archive: Path, members: list[zipfile.ZipInfo], settings: WebSettings) -> None:
    if len(members) > settings.max_unpacked_files:
        raise DataError(
            archive.name, f"holds {len(members):,} files, more than {settings.max_unpacked_files:,}"
        )
    total = 0
    for m in members:
        path = PurePosixPath(m.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or ":" in m.filename:
            raise DataError(archive.name, f"member {m.filename!r} points outside the archive")
        if stat.S_ISLNK(m.external_attr >> 16):
            raise DataError(archive.name, f"member {m.filename!r} is a link")
        if m.file_size > MAX_RATIO * max(m.compress_size, 1) and m.file_size > CHUNK:
            raise DataError(
                archive.name,
                f"member {m.filename!r} unpacks {m.file_size // max(m.compress_size, 1)}x "
                "larger: refused as a zip bomb",
            )
        total += m.file_size
    if total > settings.max_unpacked_bytes:
        raise DataError(
            archive.name, f"unpacks to {total:,} bytes, more than {settings.max_unpacked_bytes:,}"
        )


def _copy_capped(source: IO[bytes], out: IO[bytes], declared: int, archive: Path) -> None:
    """Copy a member, refusing one that yields more bytes than its header declared."""
    written = 0
    while chunk := source.read(CHUNK):
        written += len(chunk)
        if written > declared:
            raise DataError(archive.name, "a member is larger than its header says")
        out.write(chunk)


def remove_quietly(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
