"""Pascal VOC's colour map: the colour of each mask value in VOC's palette PNGs."""

from __future__ import annotations

from functools import cache

import numpy as np

from lumos.data.records import IGNORE_INDEX


@cache
def voc_palette() -> np.ndarray:
    """(256, 3) uint8: value v's colour, its bits spread over R, G and B from the top bit
    down (0 black, 1 (128, 0, 0), 2 (0, 128, 0), ..., 255 (224, 224, 192))."""
    values = np.arange(256)
    colours = np.zeros((256, 3), dtype=np.uint8)
    for shift in range(8):
        for channel in range(3):
            bit = (values >> (3 * shift + channel)) & 1
            colours[:, channel] |= (bit << (7 - shift)).astype(np.uint8)
    return colours


def voc_colour(value: int) -> tuple[int, int, int]:
    r, g, b = voc_palette()[value].tolist()
    return r, g, b


def colour_table(colours: list[tuple[int, int, int]]) -> dict[tuple[int, int, int], int]:
    """RGB -> mask value for ``colours`` (value v at position v), with VOC's ignore colour."""
    table = {voc_colour(IGNORE_INDEX): IGNORE_INDEX}
    table.update({colour: value for value, colour in enumerate(colours)})
    return table
