"""How an image is made to look as training saw it: a bundle's ``preprocessing``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from lumos.data.geometry import ResizeMode


class Preprocessing(BaseModel):
    """The dataset's stored size and channels, how images were fitted to it, and the
    network's input size. Sizes are (height, width). Normalisation is inside the network."""

    model_config = ConfigDict(extra="allow")  # fields of later versions survive a round trip

    size: tuple[int, int]
    input_size: tuple[int, int]
    channels: int
    resize_mode: ResizeMode = "squash"
    normalize: str | None = None  # what the network's first layer does, for people
    mean: list[float] | None = None
    std: list[float] | None = None
