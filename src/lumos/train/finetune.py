"""How a run's parameters learn: which are frozen, at which rates, and what batch norm does.

A network is cut into *stages* in forward order, the head last: a classifier's top-level
layers (ResNet: conv1, bn1, layer1 ... layer4, fc; a network of two sequences, like VGG or
LeNet, their layers), a detector's backbone stages then its FPN and heads together. Recipes
freeze the first ``freeze_stages`` of them, and with ``body_lr`` give each stage its own
rate, from ``body_lr`` for the first to ``lr`` for the head, spaced geometrically (fastai's
``slice(lo, hi)``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from lumos.models.surgery import freeze_backbone
from lumos.recipe import Recipe

EXPAND_BELOW = 3  # a network of fewer top-level layers is cut inside its sequences


@dataclass
class Stage:
    name: str
    modules: list[nn.Module]

    def parameters(self) -> list[nn.Parameter]:
        return [p for m in self.modules for p in m.parameters()]


def stages(model: nn.Module) -> list[Stage]:
    """The stages of a lumos model's network, in forward order; the head is the last."""
    net = model.get_submodule("net")
    try:
        body = net.get_submodule("backbone.body")  # a torchvision detector
    except AttributeError:
        return [Stage(name, [module]) for name, module in _layers(net)]
    rest = [m for n, m in net.named_children() if n != "backbone"]
    rest += [m for n, m in net.get_submodule("backbone").named_children() if n != "body"]
    return [
        *(Stage(f"backbone.body.{n}", [m]) for n, m in _layers(body)),
        Stage("heads", rest),
    ]


def _layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    children = [(n, m) for n, m in module.named_children() if _learns(m)]
    if len(children) >= EXPAND_BELOW:
        return children
    return [
        (f"{name}.{inner}", layer)
        for name, child in children
        for inner, layer in (
            child.named_children() if isinstance(child, nn.Sequential) else [("", child)]
        )
        if _learns(layer)
    ]


def _learns(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def freeze(model: nn.Module, recipe: Recipe) -> list[nn.Module]:
    """Stop the gradients the recipe freezes; returns the modules to keep in eval mode while
    training (frozen layers keep their batch-norm statistics, as do all batch norms when
    ``batchnorm: frozen``)."""
    kept: list[nn.Module] = []
    if recipe.unfreeze_every and (recipe.freeze_backbone or recipe.freeze_stages):
        raise ValueError("unfreeze_every decides what learns: drop freeze_backbone/freeze_stages")
    if recipe.freeze_backbone:
        kept.append(freeze_backbone(model))
    if recipe.freeze_stages:
        parts = stages(model)
        if recipe.freeze_stages >= len(parts):
            raise ValueError(
                f"freeze_stages {recipe.freeze_stages}: {recipe.network} has {len(parts)} "
                f"stages; at most {len(parts) - 1} leaves its head to learn"
            )
        for stage in parts[: recipe.freeze_stages]:
            for module in stage.modules:
                module.requires_grad_(False)
                kept.append(module)
    if recipe.batchnorm == "frozen":
        kept += [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    return kept


def gradually(model: nn.Module, recipe: Recipe, epoch: int) -> list[nn.Module]:
    """Gradual unfreezing (ULMFiT): in ``epoch`` (from 0) the head and the
    ``epoch // unfreeze_every`` stages below it learn, the others do not; returns the
    modules that do not (kept in eval mode)."""
    parts = stages(model)
    learning = 1 + epoch // recipe.unfreeze_every
    still = parts[: max(len(parts) - learning, 0)]
    for stage in parts:
        for module in stage.modules:
            module.requires_grad_(stage not in still)
    return [module for stage in still for module in stage.modules]


def optimizer(recipe: Recipe, model: nn.Module) -> torch.optim.Optimizer:
    """The recipe's optimiser over the parameters that learn: no weight decay on biases and
    normalisation parameters (as in the torchvision references); with ``body_lr``, a group
    per stage whose ``lr_scale`` the schedule's rate is multiplied by (the head's first)."""
    # Gradual unfreezing adds stages as it goes: every parameter is in the optimiser, and
    # those without gradients are skipped by it until they learn.
    learns = (lambda p: True) if recipe.unfreeze_every else (lambda p: p.requires_grad)
    if recipe.body_lr is None:
        scaled = [(1.0, [p for p in model.parameters() if learns(p)])]
    else:
        parts = stages(model)
        last = max(len(parts) - 1, 1)
        ratio = recipe.body_lr / recipe.lr
        scaled = [
            (ratio ** (1 - i / last), [p for p in stage.parameters() if learns(p)])
            for i, stage in reversed(list(enumerate(parts)))
        ]
    groups = [group for scale, params in scaled for group in _decay_groups(recipe, scale, params)]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            groups,
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov and recipe.momentum > 0,
        )
    if recipe.optimizer == "adam":
        return torch.optim.Adam(groups, lr=recipe.lr)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=recipe.lr)
    return torch.optim.RMSprop(groups, lr=recipe.lr, momentum=recipe.momentum)


def _decay_groups(recipe: Recipe, scale: float, params: Iterable[nn.Parameter]) -> list[dict]:
    decay, no_decay = [], []
    for parameter in params:
        (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": recipe.weight_decay, "lr_scale": scale},
        {"params": no_decay, "weight_decay": 0.0, "lr_scale": scale},
    ]


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Replace every batch norm's running statistics by their average over ``batches``
    (the training images, unaugmented): a source network meets data of another look.
    Returns how many layers were re-estimated."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the pass
    model.train()
    for images in batches:
        model(images)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.train(was_training)
    return len(norms)
