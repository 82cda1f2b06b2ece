import numpy as np
import pytest
from PIL import Image

from lumos.data.geometry import RESIZE_MODES, place_boxes, place_image, place_mask, placement
from lumos.data.records import IGNORE_INDEX


def test_squash_stretches() -> None:
    where = placement((200, 100), (50, 50), "squash")
    assert where.resized == (50, 50) and where.offset == (0, 0)


def test_crop_covers_and_centres() -> None:
    where = placement((200, 100), (50, 50), "crop")
    assert where.resized == (100, 50) and where.offset == (-25, 0)


def test_fill_fits_and_centres() -> None:
    where = placement((200, 100), (50, 50), "fill")
    assert where.resized == (50, 25) and where.offset == (0, 12)


def test_half_crop_is_between_fill_and_crop() -> None:
    where = placement((200, 100), (50, 50), "half-crop")
    assert where.resized == (75, 38) and where.offset == (-13, 6)


def test_fill_border_is_noise_and_repeatable() -> None:
    image = Image.new("RGB", (200, 100), (0, 0, 0))
    where = placement(image.size, (50, 50), "fill")
    first = place_image(image, where, (0, 1))
    assert first.shape == (50, 50, 3)
    assert first[:10].std() > 40  # noise above the image
    assert (first[20:30] == 0).all()
    np.testing.assert_array_equal(first, place_image(image, where, (0, 1)))


@pytest.mark.parametrize("mode", RESIZE_MODES)
def test_image_mask_and_box_stay_aligned(mode: str) -> None:
    """A white rectangle, its mask and its box land on the same pixels in every mode."""
    pixels = np.zeros((120, 200), dtype=np.uint8)
    mask = np.zeros((120, 200), dtype=np.uint8)
    pixels[40:80, 60:140] = 255
    mask[40:80, 60:140] = 1
    box = np.array([[60, 40, 140, 80]], dtype=np.float32)
    where = placement((200, 120), (64, 64), mode)  # type: ignore[arg-type]
    image_out = place_image(Image.fromarray(pixels), where, (0, 0))
    mask_out = place_mask(mask, where)
    boxes_out, keep = place_boxes(box, where)
    assert keep.all()
    x1, y1, x2, y2 = boxes_out[0]
    ys, xs = np.nonzero(mask_out == 1)
    assert abs(xs.min() - x1) <= 1 and abs(xs.max() + 1 - x2) <= 1
    assert abs(ys.min() - y1) <= 1 and abs(ys.max() + 1 - y2) <= 1
    inside = image_out[int(y1) + 1 : int(y2) - 1, int(x1) + 1 : int(x2) - 1]
    assert inside.mean() > 240
    if mode in ("fill", "half-crop"):
        assert (mask_out == IGNORE_INDEX).any()


def test_box_cropped_away_is_not_kept() -> None:
    where = placement((200, 100), (50, 50), "crop")
    boxes, keep = place_boxes(np.array([[0, 0, 20, 20], [90, 40, 110, 60]], np.float32), where)
    assert keep.tolist() == [False, True]
    np.testing.assert_allclose(boxes[1], [20, 20, 30, 30])
