"""The recipe: everything that defines a training run, as one flat, validated model.

Defaults work out of the box (SGD with momentum, cosine schedule with warmup, per-channel
normalisation, bf16 autocast and channels-last on CPU where they help). A recipe round-trips
through YAML; an unknown key or a wrong type is refused with the key named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lumos.errors import LumosError

Side = Annotated[int, Field(ge=1, le=8192)]
Optimizer = Literal["sgd", "adam", "adamw", "rmsprop"]
LRPolicy = Literal[
    "fixed", "step", "multistep", "exponential", "polynomial", "cosine", "onecycle", "plateau"
]
FixedPrecision = Literal["fp32", "bf16", "fp16"]  # a precision that is not auto
Precision = Literal["auto", FixedPrecision]  # auto: what this device trains fastest in, well
Normalize = Literal["none", "per-channel", "mean-image"]
Balance = Literal["none", "weights", "sampler"]
BatchNorm = Literal["train", "frozen", "reestimate"]
Finetune = Literal["full", "linear-probe", "lp-ft"]
Metric = Literal[
    "val_accuracy", "val_loss", "val_top5", "val_f1", "val_miou", "val_map", "val_map_50"
]


class RecipeError(LumosError):
    """A recipe that cannot be used: the message names the key."""


class Recipe(BaseModel):
    """A training run. See docs/training.md for what each field does."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    dataset: str
    network: str = "resnet18"
    run_name: str | None = Field(
        None,
        max_length=100,
        description="what lists and pages call the run (default: NETWORK on DATASET)",
    )
    input_size: tuple[Side, Side] | None = Field(
        None, description="(height, width); default: the dataset's"
    )
    init: str | None = Field(
        None,
        description="saved model, or weights by name (torchvision:NAME.TAG, timm:NAME.TAG, "
        "hf-hub:ORG/NAME), whose weights start the run where names and shapes match",
    )
    freeze_backbone: bool = Field(False, description="train only the head (detector: its FPN too)")
    finetune: Finetune = Field(
        "full", description="linear-probe: fit the head on features; lp-ft: probe, then full"
    )
    probe_epochs: int = Field(
        100, ge=1, description="full-batch L-BFGS iterations a probe fits its head for"
    )
    unfreeze_every: int = Field(
        0, ge=0, description="gradual unfreezing: one more stage learns every N epochs; 0 = off"
    )
    freeze_stages: int = Field(
        0, ge=0, description="freeze the network's first N stages (stem, blocks; docs/transfer.md)"
    )
    body_lr: float | None = Field(
        None, gt=0, description="the first stage's rate; stages up to the head at lr, geometrically"
    )
    batchnorm: BatchNorm = Field(
        "train",
        description="train, frozen (keep the statistics), or reestimate them on the data first",
    )
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    accumulate: int = Field(1, ge=1, description="batches per optimiser step")

    optimizer: Optimizer = "sgd"
    lr: float = Field(0.05, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(5e-4, ge=0)

    lr_policy: LRPolicy = "cosine"
    warmup_epochs: float = Field(0.0, ge=0)
    step_size: int = Field(10, ge=1, description="epochs between drops (step)")
    milestones: list[int] = Field(
        default_factory=list, description="epochs of the drops (multistep)"
    )
    gamma: float = Field(
        0.1, gt=0, description="drop factor (step, multistep, exponential per epoch, plateau)"
    )
    power: float = Field(1.0, gt=0, description="exponent (polynomial)")
    plateau_patience: int = Field(
        3, ge=0, description="epochs without improvement before a drop (plateau)"
    )
    min_lr: float = Field(0.0, ge=0)

    clip_grad: float = Field(0.0, ge=0, description="largest gradient norm; 0 = no clipping")

    label_smoothing: float = Field(0.0, ge=0, lt=1)
    balance: Balance = "none"

    hflip: bool = False
    vflip: bool = False
    crop_scale: float = Field(
        1.0, gt=0, le=1, description="random resized crop down to this area share; 1 = off"
    )
    scale_jitter: float = Field(
        0.0, ge=0, lt=1, description="detectors, segmenters: rescale by 1 +- this; 0 = off"
    )
    rotation: float = Field(0.0, ge=0, le=180, description="degrees, either way")
    color_jitter: float = Field(0.0, ge=0, le=1)
    invert: float = Field(0.0, ge=0, le=1, description="probability of inverting an image")
    noise: float = Field(
        0.0, ge=0, description="standard deviation of added Gaussian noise (0-1 pixels)"
    )
    mixup: float = Field(0.0, ge=0, description="MixUp alpha; 0 = off")
    cutmix: float = Field(0.0, ge=0, description="CutMix alpha; 0 = off")
    normalize: Normalize | None = Field(
        None, description="default: what the network declares (per-channel for the zoo's)"
    )

    seed: int = 0
    precision: Precision = "auto"
    channels_last: bool | None = Field(None, description="default: on for convolutional networks")
    ema: float = Field(
        0.0, ge=0, lt=1, description="decay of an exponential moving average of weights; 0 = off"
    )
    val_every: int = Field(1, ge=1)
    checkpoint_every: int = Field(1, ge=1, description="epochs between checkpoints")
    checkpoint_steps: int = Field(
        0, ge=0, description="also a checkpoint every this many optimiser steps; 0 = off"
    )
    checkpoint_minutes: float = Field(
        10.0, ge=0, description="also a checkpoint every this many minutes; 0 = off"
    )
    time_limit: float = Field(
        0.0,
        ge=0,
        description="minutes of training at most; the epochs become what fits and the "
        "schedule follows; 0 = off",
    )
    early_stopping: int = Field(
        0, ge=0, description="epochs without improvement before stopping; 0 = off"
    )
    metric: Metric | None = Field(
        None, description="what 'best' means; default val_accuracy, val_miou or val_map_50"
    )
    workers: int = Field(2, ge=0, description="loader threads (at most the run's threads)")
    threads: int | None = Field(
        None, ge=1, description="CPU threads; default: the job's share of the cores"
    )
    nproc: int = Field(
        1, ge=1, description="training processes (torch.distributed); batch size is their total"
    )
    tensorboard: bool = False

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        if self.nproc > self.batch_size:
            raise ValueError(f"batch_size {self.batch_size} cannot give {self.nproc} processes "
                             "an image each: raise batch_size or lower nproc")  # fmt: skip
        if self.nproc > 1 and self.unfreeze_every:
            raise ValueError("unfreeze_every does not work with nproc > 1: the processes "
                             "agree on the learning weights when they start")  # fmt: skip
        if self.lr_policy == "multistep" and not self.milestones:
            raise ValueError("lr_policy multistep needs milestones, e.g. [30, 60]")
        if self.warmup_epochs >= self.epochs:
            raise ValueError("warmup_epochs must be shorter than epochs")
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str, source: str = "recipe") -> Recipe:
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise RecipeError(f"{source}: malformed YAML: {e}".replace("\n", " ")) from None
        if not isinstance(values, dict):
            raise RecipeError(f"{source}: a recipe is a mapping of keys to values")
        return cls.parse(values, source)

    @classmethod
    def load(cls, path: Path) -> Recipe:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise RecipeError(f"{path}: cannot read recipe: {e}") from None
        return cls.from_yaml(text, str(path))

    @classmethod
    def from_settings(cls, settings: list[str]) -> Recipe:
        """A recipe from YAML files and ``KEY=VALUE`` settings (values read as YAML), later
        ones winning: what ``lumos train`` takes."""
        values: dict = {}
        for item in settings:
            key, sep, value = item.partition("=")
            if sep:
                values[key.strip()] = yaml.safe_load(value)
            else:
                values.update(cls.load(Path(item)).model_dump(exclude_unset=True))
        return cls.parse(values, "command line")

    @classmethod
    def parse(cls, values: dict, source: str = "recipe") -> Recipe:
        """Validate ``values``; a :class:`RecipeError` names the first bad key."""
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            raise RecipeError(f"{source}: {describe_error(e)}") from None


def describe_error(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"unknown key {key!r}"
    if not key:
        return first["msg"].removeprefix("Value error, ")
    return f"{key}: {first['msg']}"
