"""Fine-tuning strategies: frozen stages, a learning rate per stage, batch-norm statistics."""

from __future__ import annotations

import pytest
import torch

from helpers import colour_folders
from lumos.data import Dataset, import_dataset
from lumos.models import NetworkSpec, build_network
from lumos.models.normalization import identity, normalized_model
from lumos.recipe import Recipe, RecipeError
from lumos.tasks import DETECTION, SEGMENTATION
from lumos.train.errors import TrainError
from lumos.train.finetune import stages
from lumos.train.trainer import Trainer
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def colours(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    root = tmp_path_factory.mktemp("finetune")
    workspace = Workspace(root / "ws").ensure()
    import_dataset(colour_folders(root / "colours", size=32), "colours", workspace=workspace)
    return Dataset.open("colours", workspace)


def _recipe(**values: object) -> Recipe:
    settings = {"dataset": "colours", "network": "resnet18", "epochs": 1, "batch_size": 8,
                "lr": 0.05, "workers": 0, "precision": "fp32"}  # fmt: skip
    return Recipe(**{**settings, **values})


def _model(network: str, classes: int = 3) -> torch.nn.Module:
    with torch.device("meta"):
        spec = NetworkSpec.resolve(network, classes, 3, (64, 64))
        return normalized_model(build_network(spec), identity(3))


def test_networks_are_cut_into_stages_in_forward_order() -> None:
    names = [s.name for s in stages(_model("resnet18"))]
    assert names == ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"]
    lenet = [s.name for s in stages(_model("lenet5"))]
    assert lenet[0].startswith("features.") and lenet[-1].startswith("classifier.")
    fcos = [s.name for s in stages(_model("fcos_resnet18_fpn", 4))]
    assert fcos[:2] == ["backbone.body.conv1", "backbone.body.bn1"] and fcos[-1] == "heads"


def test_frozen_stages_keep_their_weights_and_statistics(colours: Dataset) -> None:
    trainer = Trainer(_recipe(freeze_stages=3), colours)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    for name in ("net.conv1.weight", "net.bn1.running_mean", "net.layer1.0.conv1.weight"):
        assert torch.equal(before[name], after[name]), name
    assert not torch.equal(before["net.layer2.0.conv1.weight"], after["net.layer2.0.conv1.weight"])
    with pytest.raises(TrainError, match="freeze_stages 7: resnet18 has 7 stages; at most 6"):
        Trainer(_recipe(freeze_stages=7), colours)


def test_each_stage_learns_at_its_own_rate(colours: Dataset) -> None:
    trainer = Trainer(_recipe(body_lr=0.0005, lr_policy="fixed"), colours)
    trainer.fit()
    rates = [group["lr"] for group in trainer.optimizer.param_groups]
    assert rates[0] == pytest.approx(0.05)  # the head's group comes first: logs show lr
    assert rates[-1] == pytest.approx(0.0005)  # conv1
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == 7
    assert trainer.state.history[-1]["lr"] == pytest.approx(0.05)


def test_batch_norm_frozen_or_reestimated_on_the_data(colours: Dataset) -> None:
    frozen = Trainer(_recipe(batchnorm="frozen"), colours)
    before = frozen.model.state_dict()["net.layer3.1.bn2.running_var"].clone()
    frozen.fit()
    assert torch.equal(before, frozen.model.state_dict()["net.layer3.1.bn2.running_var"])
    plain = Trainer(_recipe(), colours)
    plain.fit()
    steps = plain.model.get_submodule("net.bn1").num_batches_tracked.item()
    again = Trainer(_recipe(batchnorm="reestimate"), colours)
    again.fit()
    bn1 = again.model.get_submodule("net.bn1")
    assert bn1.num_batches_tracked.item() == 2 * steps  # one pass to estimate, one to train
    assert bn1.momentum == 0.1  # restored after the cumulative pass


def test_strategies_a_network_cannot_take_are_refused() -> None:
    detector = Recipe(dataset="d", network="fcos_resnet18_fpn", batchnorm="reestimate")
    assert DETECTION.recipe_problem(detector) == (
        "batchnorm: reestimate is for classifiers and segmenters"
    )
    probed = Recipe(dataset="d", network="fpn_resnet18", finetune="linear-probe")
    assert SEGMENTATION.recipe_problem(probed) == (
        "finetune: linear-probe is for classifiers (segmenters: freeze_backbone)"
    )
    with pytest.raises(RecipeError, match="body_lr"):
        Recipe.parse({"dataset": "d", "network": "resnet18", "body_lr": 0})
    with pytest.raises(RecipeError, match="batchnorm"):
        Recipe.parse({"dataset": "d", "network": "resnet18", "batchnorm": "sometimes"})


def test_a_linear_probe_fits_the_head_on_features_and_leaves_the_body(colours: Dataset) -> None:
    trainer = Trainer(_recipe(finetune="linear-probe", epochs=5, probe_epochs=60), colours)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    state = trainer.fit()
    after = trainer.model.state_dict()
    assert [record["epoch"] for record in state.history] == [1]  # one pass, not 5 epochs
    assert state.history[0]["probe"] == 1.0 and state.history[0]["val_accuracy"] >= 0.6
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("net.fc"))
    assert not torch.equal(before["net.fc.weight"], after["net.fc.weight"])
    tuned = Trainer(_recipe(finetune="lp-ft", epochs=2, probe_epochs=60), colours)
    history = tuned.fit().history
    assert [r.get("probe") for r in history] == [1.0, None]  # the probe, then full tuning
    assert not torch.equal(before["net.conv1.weight"], tuned.model.state_dict()["net.conv1.weight"])


def test_gradual_unfreezing_adds_a_stage_an_epoch_from_the_top(colours: Dataset) -> None:
    trainer = Trainer(_recipe(unfreeze_every=1, epochs=2), colours)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = trainer.model.state_dict()
    changed = {
        layer: not torch.equal(before[f"net.{layer}"], after[f"net.{layer}"])
        for layer in ("conv1.weight", "layer3.0.conv1.weight", "layer4.0.conv1.weight", "fc.weight")
    }
    assert changed == {"conv1.weight": False, "layer3.0.conv1.weight": False,
                       "layer4.0.conv1.weight": True, "fc.weight": True}  # fmt: skip
    with pytest.raises(TrainError, match="unfreeze_every decides what learns"):
        Trainer(_recipe(unfreeze_every=1, freeze_stages=2), colours)
