"""`lumos plan`'s traced estimate and the seeds' rule of thumb against the allocator's peak
during one real training step on this CPU (`lumos.plan.measure`): 10 networks (LeNet to
ResNet-50, a detector, two segmenters) x 3 batch sizes x 2 optimisers, fp32, and the bf16
arithmetic on three of them. With ``--detectors``: the zoo's detectors at batch 8 and 32
(a real step at the batch asked), beside the line through batch 1 and 2 that plans took
before.

    python benchmarks/memory_plan.py [--detectors | --more]

``--more``: 15 further cases (detectors at batch 8 and 16, other networks, bf16). The
estimate counts each convolution kernel's own buffers, measured on this CPU.
"""

from __future__ import annotations

import argparse
import statistics

from lumos.plan.measure import training_peak
from lumos.plan.memory import Planner, workload
from lumos.plan.trace import extrapolate, trace_real
from machine import print_machine

NETWORKS = [  # network, input, three batch sizes
    ("lenet5", (1, 32, 32), (16, 64, 256)),
    ("alexnet", (3, 128, 128), (4, 16, 32)),
    ("vgg11", (3, 64, 64), (4, 8, 16)),
    ("googlenet", (3, 96, 96), (4, 8, 16)),
    ("mobilenet_v3_small", (3, 96, 96), (8, 16, 32)),
    ("efficientnet_b0", (3, 96, 96), (4, 8, 16)),
    ("resnet18", (3, 64, 64), (8, 16, 32)),
    ("resnet50", (3, 128, 128), (2, 4, 8)),
    ("fcos_resnet18_fpn", (3, 128, 128), (2, 4, 8)),
    ("unet", (3, 128, 128), (2, 4, 8)),
    ("lraspp_mobilenet_v3_large", (3, 128, 128), (2, 4, 8)),
]
BF16 = ["resnet18", "unet", "mobilenet_v3_small"]
# Issue 29's cases beyond these: other networks, detectors at batch 8 and 16, bf16
MORE = [  # network, input, batch, optimiser, precision
    ("fcos_resnet18_fpn", (3, 128, 128), 8, "adamw", "fp32"),
    ("fcos_resnet18_fpn", (3, 128, 128), 16, "sgd", "fp32"),
    ("fcos_cs3darknet_n_fpn", (3, 128, 128), 8, "adamw", "fp32"),
    ("fcos_cs3darknet_n_fpn", (3, 128, 128), 16, "adamw", "bf16"),
    ("retinanet_resnet18_fpn", (3, 128, 128), 8, "sgd", "fp32"),
    ("retinanet_resnet18_fpn", (3, 128, 128), 16, "sgd", "fp32"),
    ("mobilenet_v2", (3, 64, 64), 16, "sgd", "fp32"),
    ("resnet34", (3, 64, 64), 8, "adamw", "fp32"),
    ("timm:resnet10t", (3, 32, 32), 32, "sgd", "fp32"),
    ("timm:convnext_atto", (3, 64, 64), 8, "adamw", "fp32"),
    ("googlenet", (3, 96, 96), 8, "adamw", "bf16"),
    ("efficientnet_b0", (3, 96, 96), 8, "adamw", "bf16"),
    ("lenet5", (1, 32, 32), 256, "sgd", "bf16"),
    ("vgg11", (3, 64, 64), 8, "sgd", "bf16"),
    ("lraspp_mobilenet_v3_large", (3, 128, 128), 4, "adamw", "bf16"),
]
DETECTORS = ["fcos_resnet18_fpn", "fcos_cs3darknet_n_fpn", "fcos_cs3darknet_s_fpn",
             "retinanet_resnet18_fpn", "fasterrcnn_resnet18_fpn"]  # fmt: skip


def cases(more: bool) -> list[tuple[str, tuple[int, int, int], int, str, str]]:
    if more:
        return MORE
    grid = [
        (network, shape, batch, optimizer, "fp32")
        for network, shape, batches in NETWORKS
        for batch in batches
        for optimizer in ("sgd", "adamw")
    ]
    bf16 = [(n, s, b[1], "adamw", "bf16") for n, s, b in NETWORKS if n in BF16]
    return grid + bf16


def detectors() -> None:
    print("network | batch | estimate (how) | from batch 1, 2 | measured | error | before")
    errors: dict[str, list[float]] = {"estimate": [], "before": []}
    for network in DETECTORS:
        work = workload(network, (3, 128, 128), num_classes=3)
        planner = Planner(work)
        one, two = (1, trace_real(work, 1)), (2, trace_real(work, 2))
        for batch in (8, 32):
            plan, before = planner.plan(batch), extrapolate(one, two, batch).training
            measured = training_peak(work, batch)
            error, old = (100 * (v - measured) / measured for v in (plan.training, before))
            errors["estimate"].append(abs(error))
            errors["before"].append(abs(old))
            print(f"{network} | {batch} | {plan.training / 1e6:.1f}M ({plan.how}) | "
                  f"{before / 1e6:.1f}M | {measured / 1e6:.1f}M | {error:+.1f}% | {old:+.1f}%",
                  flush=True)  # fmt: skip
    for name, values in errors.items():
        print(f"{name}: |error| median {statistics.median(values):.1f}%, worst {max(values):.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--detectors", action="store_true")
    parser.add_argument("--more", action="store_true", help="issue 29's further cases")
    args = parser.parse_args()
    if args.detectors:
        print_machine()
        detectors()
        return
    print_machine()
    header = ("network", "input", "batch", "optim", "prec", "estimate", "rule", "measured")
    print(" | ".join(header) + " | est. error | rule error")
    errors: dict[str, list[float]] = {"estimate": [], "rule": []}
    for network, shape, batch, optimizer, precision in cases(args.more):
        work = workload(network, shape, optimizer=optimizer, precision=precision)
        traced = Planner(work).plan(batch)
        measured = training_peak(work, batch)
        rule = traced.rule_of_thumb[0]
        error, rule_error = (100 * (v - measured) / measured for v in (traced.training, rule))
        errors["estimate"].append(abs(error))
        errors["rule"].append(abs(rule_error))
        interval = traced.training_least < traced.training
        low = f"{traced.training_least / 1e6:.1f}-" if interval else ""
        print(f"{network} | {'x'.join(map(str, shape))} | {batch} | {optimizer} | {precision} | "
              f"{low}{traced.training / 1e6:.1f}M ({traced.kernel_buffers / 1e6:.1f}M kernels) | "
              f"{rule / 1e6:.1f}M | {measured / 1e6:.1f}M | {error:+.1f}% | {rule_error:+.0f}%",
              flush=True)  # fmt: skip
    for name, values in errors.items():
        print(f"{name}: |error| median {statistics.median(values):.1f}%, worst {max(values):.1f}% "
              f"over {len(values)} cases")  # fmt: skip


if __name__ == "__main__":
    main()
