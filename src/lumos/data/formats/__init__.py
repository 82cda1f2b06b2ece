"""One module per source format; each has ``NAME``, ``TASK``, ``sniff``, ``scan`` and ``write``.

:func:`resolve` picks the reader for a source (by ``--format`` or by looking at it);
``sample:NAME`` sources come from :mod:`lumos.data.samples`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType

from lumos.data.formats import (
    cifar,
    coco,
    cvat,
    folder,
    kitti,
    labelme,
    labelme_xml,
    labelstudio,
    listfile,
    masks,
    mnist,
    voc,
    yolo,
)
from lumos.data.records import Scan
from lumos.data.samples import SAMPLES
from lumos.errors import DataError

# Most specific first: a plain folder of sub-folders would match many of them.
_MODULES: tuple[ModuleType, ...] = (
    mnist,
    cifar,
    yolo,
    labelstudio,
    coco,
    labelme_xml,
    voc,
    cvat,
    kitti,
    masks,
    labelme,
    listfile,
    folder,
)
FORMATS: dict[str, ModuleType] = {m.NAME: m for m in _MODULES}
SAMPLE_PREFIX = "sample:"


def is_sample(source: str | Path | None) -> bool:
    """Whether ``source`` names a built-in sample (``sample:NAME``), not a path."""
    return isinstance(source, str) and source.startswith(SAMPLE_PREFIX)


@dataclass(frozen=True)
class Reader:
    """A reader that is not a module (the samples); same attribute names as the modules."""

    NAME: str
    scan: Callable[[Path], Scan]


def _module(format_name: str) -> ModuleType:
    if format_name not in FORMATS:
        raise DataError(None, f"unknown format {format_name!r}: choose from {', '.join(FORMATS)}")
    return FORMATS[format_name]


def resolve(source: str | Path, format_name: str | None) -> tuple[Reader | ModuleType, Path]:
    """The reader for ``source`` and the path it reads."""
    text = str(source)
    if is_sample(text):
        name = text[len(SAMPLE_PREFIX) :]
        if name not in SAMPLES:
            raise DataError(text, f"no such sample: choose from {', '.join(sorted(SAMPLES))}")
        return Reader(text, lambda _path: SAMPLES[name]()), Path(text)
    path = Path(source)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    if format_name is not None:
        if format_name not in FORMATS:
            raise DataError(
                None, f"unknown format {format_name!r}: choose from {', '.join(FORMATS)}"
            )
        return FORMATS[format_name], path
    for module in _MODULES:
        if module.sniff(path):
            return module, path
    raise DataError(path, f"cannot tell the format: pass --format ({', '.join(FORMATS)})")


def scan(reader: Reader | ModuleType, location: Path, corners: str = "pixels") -> Scan:
    """What ``reader`` finds at ``location``; a format with a box-corner convention
    (``READS_CORNERS``, Pascal VOC) reads the one chosen."""
    if getattr(reader, "READS_CORNERS", False):
        return reader.scan(location, corners=corners)
    return reader.scan(location)


def writer(format_name: str, corners: str = "pixels") -> Callable:
    """The ``write(dataset, folder)`` function of a format (with ``corners`` where it has
    that convention)."""
    module = _module(format_name)
    if getattr(module, "READS_CORNERS", False):
        return partial(module.write, corners=corners)
    return module.write


def download_into(folder: Path, format_name: str | None) -> Path:
    """Fetch MNIST (``--format mnist``) or CIFAR-10 (``--format cifar``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if format_name == "mnist":
        mnist.download(folder)
        return folder
    if format_name == "cifar":
        return cifar.download(folder)
    raise DataError(folder, "--download needs --format mnist or --format cifar")
