"""A bundle's network is built without initialising weights it is about to replace, and
owns its weights: changing the network leaves the bundle as it was."""

from __future__ import annotations

import torch

from lumos.bundle import Bundle
from lumos.models import NetworkSpec


def _first_weight(model: torch.nn.Module) -> tuple[str, torch.Tensor]:
    return next((k, v) for k, v in model.state_dict().items() if k.endswith("weight"))


def test_a_model_holds_the_bundles_weights_as_its_own() -> None:
    bundle = Bundle.untrained(NetworkSpec.resolve("lenet5", 3, 1, (32, 32)))
    model = bundle.model()
    for key, value in model.state_dict().items():
        assert torch.equal(value, bundle.weights[key]) and not value.is_meta, key
    key, weight = _first_weight(model)
    before = bundle.weights[key].clone()
    with torch.no_grad():
        weight.add_(1.0)
    assert torch.equal(bundle.weights[key], before)  # the bundle's tensors are not shared
    assert all(p.requires_grad for p in model.parameters())


def test_a_network_with_buffers_its_weights_lack_is_built_whole() -> None:
    """timm's LeViT keeps its attention-bias indices out of its state dict: built without
    storage they would be left without values; the model is built the usual way instead."""
    spec = NetworkSpec.resolve("timm:levit_128s", 3, 3, (224, 224))
    bundle = Bundle.untrained(spec)
    model = bundle.model()
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    assert model(torch.rand(1, 3, 224, 224)).shape == (1, 3)
