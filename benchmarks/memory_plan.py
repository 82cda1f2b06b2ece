"""`lumos plan`'s estimate and the seeds' rule of thumb against the measured peak of one
real training step on this CPU (live tensor bytes, `lumos.plan.measure`).

    python benchmarks/memory_plan.py
"""

from __future__ import annotations

import torch

from lumos.plan import estimate
from lumos.plan.measure import training_peak

CASES = [
    ("lenet5", (1, 32, 32), 128, "sgd", "fp32"),
    ("resnet18", (3, 32, 32), 32, "sgd", "fp32"),
    ("resnet18", (3, 32, 32), 32, "adamw", "fp32"),
    ("resnet18", (3, 32, 32), 32, "sgd", "bf16"),
    ("resnet18", (3, 224, 224), 4, "sgd", "fp32"),
    ("resnet50", (3, 128, 128), 4, "adam", "fp32"),
    ("mobilenet_v3_small", (3, 96, 96), 16, "adamw", "fp32"),
    ("vgg11", (3, 64, 64), 8, "sgd", "fp32"),
    ("unet", (3, 128, 128), 4, "adam", "fp32"),
]


def main() -> None:
    torch.manual_seed(0)
    figures = ("estimate", "rule", "measured", "meas/est", "meas/rule")
    print(f"{'network':20s} {'input':10s} {'batch':>5s} {'optim':6s} {'prec':5s} "
          + " ".join(f"{name:>9s}" for name in figures))  # fmt: skip
    for network, shape, batch, optimizer, precision in CASES:
        [plan] = estimate(network, shape, [batch], optimizer=optimizer, precision=precision)
        peak = training_peak(network, shape, batch, optimizer=optimizer, precision=precision)
        rule = plan.rule_of_thumb[0]
        print(f"{network:20s} {'x'.join(map(str, shape)):10s} {batch:5d} {optimizer:6s} "
              f"{precision:5s} {plan.training / 1e6:8.1f}M {rule / 1e6:8.1f}M {peak / 1e6:8.1f}M "
              f"{peak / plan.training:8.2f} {peak / rule:9.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
