"""How an image is made to look as training saw it: a bundle's ``preprocessing``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from lumos.choices import Interpolation
from lumos.data.geometry import RESAMPLING, Placement, ResizeMode, placement, shorter_side_crop


class Preprocessing(BaseModel):
    """The dataset's stored size and channels, how images were fitted to it, and the
    network's input size. Sizes are (height, width). Normalisation is inside the network.

    Weights trained elsewhere bring their own evaluation transform (torchvision's and timm's):
    the shorter side resized to ``resize_shorter`` with ``interpolation``, then the centre
    ``size`` cut out."""

    model_config = ConfigDict(extra="allow")  # fields of later versions survive a round trip

    size: tuple[int, int]
    input_size: tuple[int, int]
    channels: int
    resize_mode: ResizeMode = "squash"
    normalize: str | None = None  # what the network's first layer does, for people
    mean: list[float] | None = None
    std: list[float] | None = None
    resize_shorter: int | None = Field(None, ge=1)
    interpolation: Interpolation | None = None  # None: lumos's own (bilinear, reducing gap 3)

    def placement(self, source: tuple[int, int]) -> Placement:
        """How an image of ``source`` (width, height) lands on the stored size."""
        height, width = self.size
        if self.resize_shorter:
            return shorter_side_crop(source, (width, height), self.resize_shorter)
        return placement(source, (width, height), self.resize_mode)

    @property
    def stats(self) -> tuple[list[float], list[float]] | None:
        """(mean, std) per channel, where the network normalises by them."""
        return None if self.mean is None or self.std is None else (self.mean, self.std)

    @property
    def decodes_reduced(self) -> bool:
        """Whether a JPEG may be decoded at a reduced scale first (lumos's own resizing; a
        library's transform decodes the whole image)."""
        return self.resize_shorter is None

    @property
    def resizing(self) -> str:
        """How an image is brought to ``size``, in words (an export's metadata says it)."""
        if self.resize_shorter:
            filter_ = self.interpolation or "bilinear"
            return f"shorter side to {self.resize_shorter} px (Pillow {filter_}), centre cut out"
        return f"{RESAMPLING}, placed by resize mode {self.resize_mode}"
