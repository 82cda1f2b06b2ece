"""The pools of `transfer.py`: each a set of source models lumos trains on generated data,
target data sets, and the fine-tuning budget that gives the ground truth. The pools differ
in their generators (glyphs and textures against counts, places and photo styles), their
networks (one ResNet-10-T, one LeNet-5, a mix) and their sizes (sources of 10-300 images a
class, targets of 5-40), so a default chosen on some can be scored on one left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import transfer_data as glyph
import transfer_layouts as layout
from transfer_data import Maker

DIGITS = [str(d) for d in range(10)]


@dataclass(frozen=True)
class Source:
    maker: Maker
    classes: list[str]
    per_class: int
    network: str


@dataclass(frozen=True)
class Target:
    maker: Maker
    classes: list[str]
    train: int  # images a class to fine-tune on
    held_out: bool = False  # left out of the choice of the within-pool default
    test: int = 40  # images a class the fine-tuned model is scored on


@dataclass(frozen=True)
class Pool:
    sources: dict[str, Source]
    targets: dict[str, Target]
    source_recipe: dict[str, Any]  # how each source is trained (Recipe fields)
    tune: dict[str, Any]  # the fixed fine-tuning budget (Recipe fields)
    strategy_sources: tuple[str, ...] = ()  # fine-tuned with every strategy with --strategies
    networks: list[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "networks", sorted({s.network for s in self.sources.values()}))


def _glyphs() -> Pool:
    """The first pool (issue 13) on timm's ResNet-10-T (ResNet-18 until issue 29: its 9
    sources and 120 fine-tuning runs took hours on 2 cores): glyphs, shapes, textures and
    photos."""
    net = "timm:resnet10t"
    parts = ["china-top", "china-bottom", "flower-top", "flower-bottom"]
    return Pool(
        sources={
            "digits": Source(glyph.handwritten_digits, DIGITS, 150, net),
            "digits-few": Source(glyph.handwritten_digits, DIGITS, 12, net),
            "letters-am": Source(glyph.glyphs, list("ABCDEFGHIJKLM"), 100, net),
            "shapes": Source(glyph.shapes, ["circle", "square", "triangle", "pentagon"], 300, net),
            "gratings": Source(glyph.gratings, ["0", "45", "90", "135"], 300, net),
            "textures": Source(
                glyph.textures, ["white", "pink", "brown", "checks", "dots"], 240, net
            ),
            "colours": Source(glyph.colours, list(glyph.HUES), 150, net),
            "photos": Source(glyph.photo_patches, parts, 300, net),
            "noise": Source(glyph.random_labels, DIGITS, 100, net),
        },
        targets={
            "font-digits": Target(glyph.glyphs, DIGITS, 20),
            "lowercase": Target(glyph.glyphs, list("abcdefgh"), 20),
            "new-shapes": Target(
                glyph.shapes, ["ring", "star", "diamond", "cross", "bar", "hexagon"], 20
            ),
            "diagonals": Target(glyph.gratings, ["22", "67", "112", "157"], 20),
            "shape-colours": Target(
                glyph.coloured_shapes, ["red", "green", "blue", "yellow"], 20, held_out=True
            ),
            "letters-nt": Target(glyph.glyphs, list("NOPQRST"), 20, held_out=True),
        },
        source_recipe={"epochs": 10, "batch_size": 64, "lr": 0.05},
        tune={"epochs": 15, "batch_size": 32, "lr": 0.02},
        strategy_sources=("digits", "letters-am", "shapes", "textures"),
    )


COUNTS = [str(n) for n in range(1, 6)]


def _layouts() -> Pool:
    """LeNet-5s on counts, places, sizes, arrows, strokes and photo styles; small targets."""
    net = "lenet5"
    return Pool(
        sources={
            "counts": Source(layout.dot_counts, COUNTS, 200, net),
            "counts-few": Source(layout.dot_counts, COUNTS, 10, net),
            "grid": Source(layout.positions, [f"cell{k}" for k in range(9)], 100, net),
            "sizes": Source(layout.sizes, ["s1", "s2", "s3", "s4", "s5"], 200, net),
            "arrows": Source(layout.arrows, ["0", "90", "180", "270"], 200, net),
            "strokes": Source(layout.strokes, ["line", "zigzag", "arc", "spiral"], 200, net),
            "styles": Source(
                layout.photo_styles,
                ["plain", "gray", "inverted", "posterised", "blurred"],
                150,
                net,
            ),
            "noise": Source(glyph.random_labels, COUNTS, 100, net),
        },
        targets={
            "more-dots": Target(layout.dot_counts, ["2", "4", "6", "8"], 30),
            "quadrants": Target(layout.positions, ["nw", "ne", "sw", "se"], 10),
            "diagonal-arrows": Target(layout.arrows, ["45", "135", "225", "315"], 15),
            "new-strokes": Target(
                layout.strokes, ["wave", "loop", "line", "spiral"], 10, held_out=True
            ),
            "blur": Target(layout.photo_styles, ["blur-0", "blur-2", "blur-4", "blur-6"], 30),
            "size-bands": Target(layout.sizes, ["small", "medium", "large"], 10, held_out=True),
        },
        source_recipe={"epochs": 15, "batch_size": 32, "lr": 0.05},
        tune={"epochs": 40, "batch_size": 16, "lr": 0.05},
    )


def _mixed() -> Pool:
    """Three architectures side by side (LeNet-5, MobileNetV3-Small, timm's ResNet-10-T) on
    both families' generators; targets of 5 to 40 images a class."""
    lenet, mobile, resnet = "lenet5", "mobilenet_v3_small", "timm:resnet10t"
    return Pool(
        sources={
            "digits-lenet": Source(glyph.handwritten_digits, DIGITS, 100, lenet),
            "strokes-lenet": Source(
                layout.strokes, ["line", "zigzag", "arc", "spiral"], 150, lenet
            ),
            "letters-mobile": Source(glyph.glyphs, list("ABCDEFGHIJKLM"), 80, mobile),
            "textures-mobile": Source(
                glyph.textures, ["white", "pink", "brown", "checks", "dots"], 150, mobile
            ),
            "shapes-resnet": Source(
                glyph.shapes, ["circle", "square", "triangle", "pentagon"], 150, resnet
            ),
            "counts-resnet": Source(layout.dot_counts, COUNTS, 150, resnet),
            "styles-resnet": Source(
                layout.photo_styles, ["plain", "gray", "inverted", "posterised"], 120, resnet
            ),
            "colours-mobile": Source(glyph.colours, list(glyph.HUES), 100, mobile),
        },
        targets={
            "digit-glyphs": Target(glyph.glyphs, DIGITS, 5),
            "hexagons-stars": Target(glyph.shapes, ["hexagon", "star", "diamond", "ring"], 10),
            "few-dots": Target(layout.dot_counts, ["1", "2", "3"], 40),
            "arrows-4": Target(layout.arrows, ["0", "90", "180", "270"], 10, held_out=True),
            "styles-new": Target(
                layout.photo_styles, ["sharp", "mirrored", "gray", "plain"], 20, held_out=True
            ),
        },
        source_recipe={"epochs": 12, "batch_size": 32, "lr": 0.05},
        tune={"epochs": 20, "batch_size": 16, "lr": 0.02},
    )


POOLS = {"glyphs": _glyphs(), "layouts": _layouts(), "mixed": _mixed()}
