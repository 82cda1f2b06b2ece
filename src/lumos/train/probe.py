"""Linear probe: the body frozen, its features computed once, the head fitted on them.

``finetune: linear-probe`` trains only the head, in seconds: one pass of the (unaugmented)
training images through the network records what the head sees (kept with the dataset,
:mod:`lumos.train.feature_cache`), and the head is fitted on those features
(a logistic regression, full-batch L-BFGS for at most ``probe_epochs`` iterations), without
the body ever running again.
``finetune: lp-ft`` then goes on to full fine-tuning from the probed head (Kumar et al.
2022: a fitted head keeps fine-tuning from distorting the body's features).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def fit_head(
    head: nn.Linear,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    iterations: int,
    weight_decay: float,
) -> float:
    """Fit ``head`` on cached features as a regularised logistic regression: full-batch
    L-BFGS with a strong-Wolfe line search for at most ``iterations`` steps, an L2 penalty
    of ``weight_decay`` on the weights; returns the final loss without the penalty."""
    optimizer = torch.optim.LBFGS(
        head.parameters(), lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe"
    )
    fitted: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        value = loss(head(inputs), targets)
        fitted.append(value.item())
        penalised = value + 0.5 * weight_decay * head.weight.square().sum()
        penalised.backward()
        return penalised

    optimizer.step(closure)
    return fitted[-1]
