"""Linear probe: the body frozen, its features computed once, the head fitted on them.

``finetune: linear-probe`` trains only the head, in seconds: one pass of the (unaugmented)
training images through the network records what the head sees (kept with the dataset,
:mod:`lumos.train.feature_cache`), and the head is fitted on those features for
``probe_epochs`` passes, without the body ever running again.
``finetune: lp-ft`` then goes on to full fine-tuning from the probed head (Kumar et al.
2022: a fitted head keeps fine-tuning from distorting the body's features).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def head_of(model: nn.Module) -> nn.Linear:
    """The classifier's last fully connected layer."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("a linear probe needs a network whose head is a linear layer")
    return linears[-1]


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
