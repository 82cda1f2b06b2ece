"""LeNet-5 as LeCun et al. (1998) drew it: tanh units and average-pool subsampling."""

from __future__ import annotations

import torch
from torch import nn


class LeNet5(nn.Module):
    """C1 (6@5x5) - S2 - C3 (16@5x5) - S4 - F5 (120) - F6 (84) - output.

    Inputs smaller than LeCun's 32x32 are zero-padded in C1 (MNIST's 28x28 gets 2 pixels),
    so the feature maps keep the paper's sizes; larger inputs keep more of them.
    """

    def __init__(
        self, num_classes: int = 10, in_channels: int = 1, input_size: tuple[int, int] = (32, 32)
    ) -> None:
        super().__init__()
        pad = max(0, (32 - min(input_size)) // 2)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=pad),
            nn.Tanh(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.Tanh(),
            nn.AvgPool2d(2),
        )
        height, width = (s + 2 * pad for s in input_size)
        flat = 16 * ((height - 4) // 2 - 4) // 2 * (((width - 4) // 2 - 4) // 2)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 120),
            nn.Tanh(),
            nn.Linear(120, 84),
            nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
