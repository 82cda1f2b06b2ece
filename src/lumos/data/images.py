"""Decoding untrusted image files into 8-bit L or RGB, with one clear reason when it fails."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lumos.errors import DataError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
"""Images with more pixels are refused as likely decompression bombs."""


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def open_image(
    source: Path | bytes,
    *,
    channels: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: tuple[int, int] | None = None,
    name: str | None = None,
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode a file, or a file's bytes (called ``name`` in errors), into mode "L"
    (channels=1) or "RGB" (channels=3).

    Returns the image and its full (width, height) as displayed. EXIF orientation is
    applied; 16-bit, palette, CMYK and alpha images are converted. ``draft_size`` (width,
    height) lets a JPEG decode at a reduced scale that is still no smaller than it, so the
    returned image may be smaller than the full size. Raises :class:`DataError`.
    """
    in_memory = isinstance(source, bytes)
    path = name or ("image" if in_memory else source)
    try:
        if (len(source) if in_memory else source.stat().st_size) == 0:
            raise DataError(path, "empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if in_memory else source) as im:
                _check_pixels(path, im.size, max_pixels)
                full = im.size
                side = max(draft_size) if draft_size else 0
                if im.format == "JPEG" and 0 < 2 * side <= min(im.size):
                    im.draft(im.mode, (side, side))
                im.load()
                upright = ImageOps.exif_transpose(im)
                if upright.size != im.size:
                    full = (full[1], full[0])
                return to_mode(upright, channels), full
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(path, "not an image: content is not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(
            path, f"image too large: over {max_pixels:,} pixels (decompression bomb?)"
        ) from None
    except OSError as e:
        raise DataError(path, f"corrupt or truncated image: {e}") from None
    except (ValueError, SyntaxError, EOFError) as e:
        raise DataError(path, f"corrupt image: {e}") from None


@contextlib.contextmanager
def image_header(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[Image.Image]:
    """The opened (not decoded) image at ``path``; a header that claims more than
    ``max_pixels`` pixels, or one Pillow cannot read, raises :class:`DataError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_pixels(path, im.size, max_pixels)
                yield im
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(
            path, f"image too large: over {max_pixels:,} pixels (decompression bomb?)"
        ) from None
    except FileNotFoundError:
        raise DataError(path, "is missing") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(path, f"cannot read image header: {e}") from None


def read_size(path: Path) -> tuple[int, int]:
    """The (width, height) stored in an image header, after EXIF rotation; no decoding."""
    with image_header(path) as im:
        width, height = im.size
        orientation = im.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def is_grayscale(path: Path) -> bool:
    """Whether an image file holds a single channel, by its header; raises :class:`DataError`
    for a file whose header cannot be read."""
    with image_header(path) as im:
        return im.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def _check_pixels(path: str | Path, size: tuple[int, int], max_pixels: int) -> None:
    if size[0] * size[1] > max_pixels:
        raise DataError(
            path,
            f"image too large: {size[0]}x{size[1]} is over {max_pixels:,} pixels "
            "(decompression bomb?)",
        )
    if size[0] == 0 or size[1] == 0:
        raise DataError(path, f"image has no pixels ({size[0]}x{size[1]})")


def to_mode(im: Image.Image, channels: int) -> Image.Image:
    """Convert any PIL mode to 8-bit "L" or "RGB"; transparency is composited on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        im = Image.fromarray(_to_uint8(np.asarray(im), sixteen_bit=im.mode.startswith("I;16")))
    if im.mode == "P" or im.mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "La", "RGBa"):
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im.convert("RGBA"))
    target = "L" if channels == 1 else "RGB"
    return im if im.mode == target else im.convert(target)


def _to_uint8(values: np.ndarray, *, sixteen_bit: bool) -> np.ndarray:
    """Scale 16/32-bit integer or float pixels to 0-255."""
    if values.dtype.kind == "f":
        peak = 1.0 if values.max(initial=0) <= 1.0 else 255.0
    elif sixteen_bit or values.max(initial=0) > 255:
        peak = 65535.0
    else:
        peak = 255.0
    return np.clip(values.astype(np.float64) * (255.0 / peak), 0, 255).round().astype(np.uint8)


def from_array(pixels: np.ndarray, channels: int) -> Image.Image:
    """A PIL image from HxW or HxWxC uint8 pixels, converted to ``channels``."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    return to_mode(Image.fromarray(np.ascontiguousarray(pixels)), channels)
