"""Starting a network from another's weights (``load_matching``): names under another
prefix, and spelt as timm's features-only networks spell them."""

from __future__ import annotations

import pytest
import timm
import torch

from lumos.models import build_model
from lumos.models.surgery import load_matching


@pytest.mark.parametrize("backbone", ["cs3darknet_s", "cs3darknet_m"])
def test_a_timm_classifier_fills_the_light_detectors_backbone(backbone: str) -> None:
    classifier = timm.create_model(backbone).state_dict()
    detector = build_model(f"fcos_{backbone}_fpn", 3, 3, (64, 64))
    body = {k: v for k, v in detector.state_dict().items() if k.startswith("backbone.body.")}
    taken = load_matching(detector, classifier)
    assert taken.copied == len(body) == len([k for k in classifier if not k.startswith("head.")])
    state = detector.state_dict()
    assert torch.equal(state["backbone.body.stages_3.conv_down.conv.weight"],
                       classifier["stages.3.conv_down.conv.weight"])  # fmt: skip
