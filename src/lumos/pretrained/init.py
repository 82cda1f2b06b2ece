"""A training run that starts from weights named by their library (``init=SPEC``): the
network they fit, and the saved model they become, pulled once and read from the store
(and the library's cache) after that."""

from __future__ import annotations

import contextlib

from lumos.bundle import Bundle
from lumos.errors import BundleError, DataError, NotFoundError
from lumos.pretrained.library_input import SOURCES, timm_pretrained, torchvision_weights
from lumos.pretrained.pull import pull, pullable, pulled_name
from lumos.recipe import Recipe
from lumos.workspace import Workspace


def names_weights(init: str | None) -> bool:
    """Whether ``init`` names a library's weights (``torchvision:``, ``timm:``,
    ``hf-hub:``) rather than a saved model (whose names hold no colon)."""
    return init is not None and init.partition(":")[0] in SOURCES


def with_network(recipe: Recipe) -> Recipe:
    """``recipe`` with the network its ``init`` weights fit, where the recipe names weights
    and no network of its own; unknown weights are refused with the nearest names."""
    if not names_weights(recipe.init):
        return recipe
    network = pullable(recipe.init).network  # type: ignore[arg-type]
    if "network" in recipe.model_fields_set:
        return recipe
    return Recipe.parse(recipe.model_dump() | {"network": network}, "recipe")


def starting_point(init: str, workspace: Workspace, *, progress: bool = False) -> Bundle:
    """The saved model a run with ``init`` starts from: that model, or the one a library's
    weights were pulled into (pulled now, from the library's cache where it has them)."""
    if not names_weights(init):
        return Bundle.load(init, workspace)
    name = pulled_name(init)
    try:
        saved = Bundle.saved(name, workspace)
    except NotFoundError:
        with contextlib.suppress(BundleError):  # another process of the run pulled it first
            pull(init, name, workspace=workspace, progress=progress)
        return Bundle.saved(name, workspace)
    if saved.meta.provenance.get("spec") != init:
        raise DataError(
            None,
            f"model {name!r} is not {init}: pull the weights under another name "
            f"(`lumos models pull {init} --name NAME`) and start from init=NAME",
        )
    return saved


def hub_spec(name: str) -> str:
    """The weights a bare network name means, tag and all: torchvision's default for a zoo
    network that has them, else timm's default (``resnet50`` →
    ``torchvision:resnet50.IMAGENET1K_V2``, ``convnext_tiny`` →
    ``timm:convnext_tiny.in12k_ft_in1k``); a spec is kept as it is."""
    if names_weights(name):
        return name
    try:
        pullable(f"torchvision:{name}")
    except DataError:
        pullable(f"timm:{name}")  # unknown to both: refused with timm's nearest names
        cfg = timm_pretrained(name)
        return f"timm:{cfg.architecture}.{cfg.tag}"
    network, weights = torchvision_weights(name)
    return f"torchvision:{network}.{weights.name}"
