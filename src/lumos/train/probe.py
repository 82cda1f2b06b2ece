"""Linear probe: the body frozen, its features computed once, the head fitted on them.

``finetune: linear-probe`` trains only the head, in seconds: one pass of the (unaugmented)
training images through the network records what the head sees, and the head is fitted on
those features for ``probe_epochs`` passes, without the body ever running again.
``finetune: lp-ft`` then goes on to full fine-tuning from the probed head (Kumar et al.
2022: a fitted head keeps fine-tuning from distorting the body's features).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn


def head_of(model: nn.Module) -> nn.Linear:
    """The classifier's last fully connected layer."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("a linear probe needs a network whose head is a linear layer")
    return linears[-1]


@torch.no_grad()
def features(
    model: nn.Module, head: nn.Linear, batches: Iterable[tuple[torch.Tensor, Any]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What ``head`` receives for every batch (float32, on the batches' device), the
    network's outputs, and the batches' targets; the network runs once, in eval mode."""
    seen: list[torch.Tensor] = []
    hook = head.register_forward_pre_hook(lambda _, args: seen.append(args[0].float()))
    model.eval()
    outputs, targets = [], []
    try:
        for images, target in batches:
            outputs.append(model(images).float())
            targets.append(target)
    finally:
        hook.remove()
    return torch.cat(seen), torch.cat(outputs), torch.cat(targets)


def fit_head(
    head: nn.Linear,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> float:
    """Fit ``head`` on cached features with AdamW, shuffled by ``seed``; returns the last
    pass's mean loss."""
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    mean = 0.0
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
        total = 0.0
        for start in range(0, len(inputs), batch_size):
            chosen = order[start : start + batch_size]
            value = loss(head(inputs[chosen]), targets[chosen])
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            total += value.item() * len(chosen)
        mean = total / len(inputs)
    return mean
