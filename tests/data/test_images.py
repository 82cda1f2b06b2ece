from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import png_claiming_size, write_image
from lumos.data.images import is_grayscale, open_image, read_size
from lumos.errors import DataError


def test_rgb_png_decodes(tmp_path: Path) -> None:
    image, full = open_image(write_image(tmp_path / "a.png", (30, 20)), channels=3)
    assert full == (30, 20)
    assert np.asarray(image).shape == (20, 30, 3)


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.jpg: empty file \(0 bytes\)"):
        open_image(tmp_path / "empty.jpg", channels=3)


def test_text_file_with_image_extension(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("shopping list: eggs")
    with pytest.raises(DataError, match="not an image"):
        open_image(tmp_path / "notes.png", channels=3)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image(tmp_path: Path, suffix: str) -> None:
    path = write_image(tmp_path / f"cut{suffix}", (64, 64), seed=1)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        open_image(path, channels=3)


def test_corrupt_bytes_inside_a_jpeg(tmp_path: Path) -> None:
    path = write_image(tmp_path / "x.jpg", (64, 64), seed=2)
    raw = bytearray(path.read_bytes())
    raw[2:40] = b"\x00" * 38  # wreck the headers after the SOI marker
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"x\.jpg"):
        open_image(path, channels=3)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = png_claiming_size(tmp_path / "bomb.png", 30_000, 30_000)
    with pytest.raises(DataError, match="image too large"):
        open_image(bomb, channels=3)


def test_pixel_limit_is_configurable(tmp_path: Path) -> None:
    path = write_image(tmp_path / "big.png", (100, 100))
    with pytest.raises(DataError, match=r"100x100 is over 5,000 pixels"):
        open_image(path, channels=3, max_pixels=5_000)


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path: Path) -> None:
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image, _ = open_image(tmp_path / "deep.png", channels=1)
    assert np.asarray(image).tolist() == [[0, 128, 255]]


def test_palette_with_transparency_is_composited_on_white(tmp_path: Path) -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 1
    image.save(tmp_path / "pal.png", transparency=1)
    decoded, _ = open_image(tmp_path / "pal.png", channels=3)
    assert np.asarray(decoded).tolist() == [[[255, 0, 0], [255, 255, 255]]]


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    pixels = np.array([[[0, 0, 0, 255], [0, 0, 0, 0], [0, 0, 0, 128]]], dtype=np.uint8)
    Image.fromarray(pixels, "RGBA").save(tmp_path / "alpha.png")
    decoded, _ = open_image(tmp_path / "alpha.png", channels=1)
    assert np.asarray(decoded)[0, 0] == 0
    assert np.asarray(decoded)[0, 1] == 255
    assert 120 <= np.asarray(decoded)[0, 2] <= 135


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    decoded, _ = open_image(tmp_path / "cmyk.jpg", channels=3)
    r, g, b = np.asarray(decoded)[4, 4]
    assert decoded.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40), dtype=np.uint8)
    pixels[:, 20:] = 255  # left half black, right half white
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # viewers rotate 90 degrees clockwise
    image.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    decoded, full = open_image(tmp_path / "phone.jpg", channels=1)
    assert full == (20, 40) == decoded.size
    assert read_size(tmp_path / "phone.jpg") == (20, 40)
    upright = np.asarray(decoded)
    assert upright[:15].mean() < 30 and upright[25:].mean() > 225  # old left is now on top


def test_large_jpeg_decodes_at_reduced_scale_with_its_full_size(tmp_path: Path) -> None:
    path = write_image(tmp_path / "large.jpg", (800, 600), seed=3)
    decoded, full = open_image(path, channels=3, draft_size=(64, 64))
    assert full == (800, 600)
    assert 64 <= min(decoded.size) < 600


def test_header_readers_refuse_a_bomb_with_its_name(tmp_path: Path) -> None:
    bomb = png_claiming_size(tmp_path / "bomb.png", 30_000, 30_000)
    for read in (read_size, is_grayscale):
        with pytest.raises(DataError, match=r"bomb\.png.*image too large"):
            read(bomb)
