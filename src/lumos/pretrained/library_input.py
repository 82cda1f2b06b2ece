"""What pretrained weights expect of their input, and the classes they score, as the library
that publishes them states it: torchvision's weights enums (``weights.transforms()``,
``weights.meta["categories"]``) and timm's pretrained configs (``resolve_data_config``'s
input size, interpolation, crop fraction, mean and std), read from the installed library;
or a timm-format repository's ``config.json`` on the Hugging Face Hub (``hf-hub:ORG/NAME``),
read through huggingface_hub's cache."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lumos.choices import Interpolation
from lumos.errors import DataError

SOURCES = ("torchvision", "timm", "hf-hub")
BACKGROUND = {"__background__": "background"}  # torchvision's name for it, and lumos's
USAGE = "use torchvision:NAME.TAG, timm:NAME.TAG or hf-hub:ORG/NAME"


@dataclass(frozen=True)
class WeightsInput:
    """The evaluation transform of a set of weights: the shorter side resized to
    ``resize_shorter`` with ``interpolation``, the centre ``size`` (height, width) cut out,
    normalised by ``mean`` and ``std``; ``labels`` the classes the weights score.

    A detector's and a segmenter's weights are not cropped (``resize_shorter`` None): lumos
    feeds them whole images at ``size`` (a segmenter's: torchvision's resize size, square; a
    detector's, None: its network's input), so that an exported graph has one input size."""

    size: tuple[int, int] | None
    resize_shorter: int | None
    interpolation: Interpolation
    mean: tuple[float, ...]
    std: tuple[float, ...]
    labels: list[str] | None


def weights_input(spec: str) -> WeightsInput:
    """The input of weights ``torchvision:NAME.TAG`` (or ``torchvision:ENUM.TAG``, as
    ``ResNet50_Weights.IMAGENET1K_V2``) or ``timm:NAME.TAG`` (the tag may be left out: the
    library's default), or ``hf-hub:ORG/NAME``. Unknown weights are refused with the nearest
    names."""
    source, name = parse_spec(spec)
    readers: dict[str, Callable[[str], WeightsInput]] = {
        "torchvision": _torchvision,
        "timm": _timm,
        "hf-hub": _hf_hub,
    }
    return readers[source](name)


def parse_spec(spec: str) -> tuple[str, str]:
    """(library, name) of weights ``spec``; refused unless the library is one lumos reads."""
    source, _, name = spec.partition(":")
    if source not in SOURCES or not name:
        raise DataError(None, f"unknown weights {spec!r}: {USAGE}")
    return source, name


def torchvision_weights(name: str) -> tuple[str, Any]:
    """(builder, weights enum member) of torchvision's ``NAME.TAG`` (the tag may be left out:
    DEFAULT) or ``ENUM.TAG``; unknown weights refused with the nearest names."""
    from torchvision.models import get_model_weights, get_weight, list_models

    try:
        if "_Weights." in name:
            weights = get_weight(name)
            return next(m for m in list_models() if get_model_weights(m) is type(weights)), weights
        model, _, tag = name.partition(".")
        return model, get_model_weights(model)[tag or "DEFAULT"]
    except (KeyError, ValueError):
        known = [f"{m}.{w.name}" for m in list_models() for w in get_model_weights(m)]
        raise DataError(
            None, f"torchvision has no weights {name!r}{_nearest(name, known)}"
        ) from None


def _torchvision(name: str) -> WeightsInput:
    model, weights = torchvision_weights(name)
    transform = weights.transforms()
    labels = [BACKGROUND.get(c, c) for c in weights.meta.get("categories") or []] or None
    if hasattr(transform, "crop_size"):  # a classifier's: resize, crop, normalise
        (crop,), (shorter,) = transform.crop_size, transform.resize_size
        size: tuple[int, int] | None = (crop, crop)
    else:  # a segmenter's resizes only; a detector's leaves it all to the model
        resized = getattr(transform, "resize_size", None)
        size, shorter = ((resized[0], resized[0]) if resized else None), None
    mean, std = (
        (transform.mean, transform.std) if hasattr(transform, "mean") else _detector_stats(model)
    )
    interpolation = getattr(transform, "interpolation", None)
    return WeightsInput(
        size=size,
        resize_shorter=shorter,
        interpolation=interpolation.value if interpolation else "bilinear",
        mean=tuple(mean),
        std=tuple(std),
        labels=labels,
    )


def _detector_stats(model: str) -> tuple[list[float], list[float]]:
    """The mean and std torchvision's detector ``model`` normalises by inside (its
    transform's), read from the model built on the meta device: no memory, no weights."""
    import torch
    from torchvision.models import get_model

    with torch.device("meta"):
        detector = get_model(model, weights=None, weights_backbone=None)
    return detector.transform.image_mean, detector.transform.image_std


def timm_pretrained(name: str) -> Any:
    """timm's pretrained config of ``NAME.TAG`` (the tag may be left out: timm's default);
    unknown weights refused with the nearest names."""
    import timm
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(name)
    except RuntimeError:  # a model timm knows, with a tag it does not
        cfg = None
    if cfg is None:
        known = timm.list_pretrained()
        raise DataError(None, f"timm has no pretrained {name!r}{_nearest(name, known)}")
    return cfg


def _timm(name: str) -> WeightsInput:
    from timm.data import ImageNetInfo, infer_imagenet_subset

    cfg = timm_pretrained(name)
    subset = infer_imagenet_subset(cfg)
    return _timm_input(cfg.to_dict(), ImageNetInfo(subset).label_descriptions() if subset else None)


def _hf_hub(repository: str) -> WeightsInput:
    config, _ = hub_config(repository)
    names = config.get("label_names")
    labels = list(names.values() if isinstance(names, dict) else names) if names else None
    return _timm_input(config, labels)


def hub_config(repository: str) -> tuple[dict[str, Any], str]:
    """The pretrained config and architecture of a timm-format repository on the Hub, read
    by timm from its ``config.json`` (downloaded once into huggingface_hub's cache)."""
    from timm.models import load_model_config_from_hf

    try:
        config, architecture, _ = load_model_config_from_hf(repository)
    except OSError as e:  # offline with no cache, no such repository: the library's words
        reason = str(e).splitlines()[0]
        raise DataError(None, f"hf-hub:{repository}: no timm config.json ({reason})") from None
    except (KeyError, ValueError) as e:
        raise DataError(None, f"hf-hub:{repository}: not a timm model's config ({e})") from None
    return config, architecture


def _timm_input(config: dict[str, Any], labels: list[str] | None) -> WeightsInput:
    """The evaluation transform timm resolves from a pretrained config."""
    from timm.data import resolve_data_config

    data = resolve_data_config({}, pretrained_cfg=config)
    _, height, width = data["input_size"]
    return WeightsInput(
        size=(height, width),
        resize_shorter=math.floor(min(height, width) / data["crop_pct"]),
        interpolation=data["interpolation"],
        mean=tuple(data["mean"]),
        std=tuple(data["std"]),
        labels=labels,
    )


def _nearest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f" (nearest: {', '.join(close)})" if close else ""
