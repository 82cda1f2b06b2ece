"""The recipe's fields as the new-model form's inputs, grouped, read from its JSON schema (one
source of truth: a new recipe field appears in the form, its choices with it)."""

from __future__ import annotations

from typing import Any

from lumos.recipe import Recipe

RECIPE_GROUPS: dict[str, list[str]] = {
    "Solver": [
        "epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
        "accumulate", "clip_grad", "label_smoothing", "balance",
    ],
    "Learning-rate policy": [
        "lr_policy", "warmup_epochs", "step_size", "milestones", "gamma", "power",
        "plateau_patience", "min_lr",
    ],
    "Augmentation": [
        "hflip", "vflip", "crop_scale", "scale_jitter", "rotation", "color_jitter", "invert",
        "noise", "mixup", "cutmix", "normalize",
    ],
    "Run": [
        "input_size", "init", "finetune", "probe_epochs", "freeze_backbone", "freeze_stages",
        "unfreeze_every", "body_lr", "batchnorm", "seed",
        "precision", "channels_last", "ema",
        "val_every", "checkpoint_every", "checkpoint_steps", "checkpoint_minutes",
        "early_stopping", "metric", "workers", "threads", "nproc",
    ],
}  # fmt: skip


def recipe_fields() -> dict[str, list[dict[str, Any]]]:
    """The recipe's fields as form inputs, grouped, from its JSON schema (one source of truth)."""
    properties = Recipe.model_json_schema()["properties"]
    return {
        group: [_field(name, properties[name]) for name in names]
        for group, names in RECIPE_GROUPS.items()
    }


def _field(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    kind = options[0]
    field = {
        "name": name,
        "label": name.replace("_", " "),
        "help": schema.get("description", ""),
    }
    default = schema.get("default")
    if "enum" in kind:
        return field | {
            "input": "select",
            "choices": kind["enum"],
            "default": default,
            "optional": len(options) < len(schema.get("anyOf", [1])),
        }
    if kind.get("type") == "boolean":
        return field | {
            "input": "checkbox" if "anyOf" not in schema else "tristate",
            "default": default,
        }
    if kind.get("type") in ("integer", "number"):
        return field | {
            "input": "number",
            "step": 1 if kind["type"] == "integer" else "any",
            "default": default,
        }
    if kind.get("type") == "array":
        return field | {"input": "list", "default": ",".join(map(str, default or []))}
    return field | {"input": "text", "default": default or ""}
