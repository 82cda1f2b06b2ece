"""What a classifier's head receives: its last linear layer, and that layer's inputs."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from lumos.models.hooks import this_thread_only


def head_of(model: nn.Module) -> nn.Linear:
    """The classifier's last fully connected layer."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("a linear probe needs a network whose head is a linear layer")
    return linears[-1]


@torch.no_grad()
def features(
    model: nn.Module, head: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``head`` receives for every batch (float32, on the batches' device) and the
    batches' labels; the network runs once, in eval mode. Other threads may run ``model``
    meanwhile (a network cached for the process): the hook keeps only this thread's calls."""
    seen: list[torch.Tensor] = []
    hook = head.register_forward_pre_hook(this_thread_only(lambda _, a: seen.append(a[0].float())))
    model.eval()
    labels = []
    try:
        for images, label in batches:
            model(images)
            labels.append(label)
    finally:
        hook.remove()
    return torch.cat(seen), torch.cat(labels)
