"""The training loop: plain PyTorch, short, with everything else in callbacks.

The loop is deterministic given the recipe's seed: the batch order, augmentation and dropout
of epoch ``e`` are drawn from generators seeded with ``(seed, e)``, and a checkpoint records
how far into an epoch it was taken, so a resumed run reaches the same weights as one that
was never stopped.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from lumos.arithmetic import Arithmetic, choose
from lumos.bundle import Bundle
from lumos.data import Dataset
from lumos.data.loader import BatchLoader, at_size
from lumos.models import NetworkSpec, build_network, input_for
from lumos.models.features import head_of
from lumos.models.normalization import normalized_model
from lumos.models.surgery import Initialisation, load_matching
from lumos.pretrained.init import starting_point
from lumos.recipe import Recipe
from lumos.tasks import Setup, task_of
from lumos.train import finetune, probe
from lumos.train.errors import TrainError
from lumos.train.feature_cache import cached_features
from lumos.train.group import ALONE, Group
from lumos.train.schedules import Schedule
from lumos.train.setup import check_fit, normalizer
from lumos.train.state import TrainState, epoch_seed
from lumos.workspace import Workspace


class Callback:
    """Override the events you need; each gets the trainer."""

    def before_fit(self, trainer: Trainer) -> None: ...
    def before_epoch(self, trainer: Trainer) -> None: ...
    def after_batch(self, trainer: Trainer) -> None: ...
    def after_epoch(self, trainer: Trainer, metrics: dict[str, float]) -> None: ...
    def after_fit(self, trainer: Trainer) -> None: ...
    def on_message(self, trainer: Trainer, message: str) -> None: ...


class StopTraining(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a callback to end training after the current epoch."""


class Trainer:
    """Trains ``recipe`` on its dataset; ``fit()`` runs from ``state`` to the last epoch."""

    def __init__(
        self,
        recipe: Recipe,
        dataset: Dataset,
        *,
        callbacks: tuple[Callback, ...] = (),
        device: str | None = None,
        workspace: Workspace | None = None,
        model: nn.Module | None = None,
        group: Group = ALONE,
    ) -> None:
        self.recipe = recipe
        self.group = group
        self.dataset = dataset
        self.callbacks = callbacks
        self.task = task_of(recipe.network)
        self.arithmetic: Arithmetic = choose(
            recipe.precision, device, cpu_autocast=self.task.cpu_autocast
        )
        self.train_split, self.val_split = check_fit(recipe, dataset)
        self.input = input_for(recipe.network, dataset.size, recipe.input_size)
        self.input_size = self.input.size
        self.metric = recipe.metric or self.task.default_metric
        self.num_outputs = len(self.task.outputs(dataset.classes))
        self.spec = NetworkSpec.resolve(
            recipe.network,
            self.num_outputs,
            dataset.channels,
            self.input_size,
            **self.task.network_options(dataset, self.input_size),
        )
        self._build_model(model, workspace)
        self.trained = group.wrap(self.model, self.arithmetic.device)  # what a step calls
        self.optimizer = finetune.optimizer(recipe, self.model)
        # The loader's threads count against the run's share of the cores.
        self.threads = torch.get_num_threads()
        self.loader_threads = min(recipe.workers, self.threads)
        self.scaler = torch.amp.GradScaler(
            self.arithmetic.device.type, enabled=self.arithmetic.needs_scaler
        )
        self.objective = self.task.objective(
            Setup(recipe, dataset, self.train_split, self.input_size, self.arithmetic)
        )
        self.loader, self.val_loader = self._loaders()
        self.steps_per_epoch = math.ceil(len(self.loader) / recipe.accumulate)
        self.schedule = Schedule(recipe, self.steps_per_epoch)
        self.state = TrainState()
        self.generator = torch.Generator()

    # -- set-up -------------------------------------------------------------------------

    def _build_model(self, model: nn.Module | None, workspace: Workspace | None) -> None:
        """The network (``model``: one to go on training, e.g. pruned, instead of a new one)
        initialised, frozen and laid out as the recipe says, and its EMA."""
        recipe = self.recipe
        torch.manual_seed(recipe.seed)
        source = starting_point(recipe.init, workspace or Workspace()) if recipe.init else None
        self.model = (
            model
            if model is not None
            else normalized_model(
                build_network(self.spec),
                normalizer(
                    recipe, self.dataset, self.input_size, source.preprocessing if source else None
                ),
            )
        )
        self.initialised = self._initialise(source) if source else None
        try:
            self.frozen = finetune.freeze(self.model, recipe)
        except ValueError as e:
            raise TrainError(str(e)) from None
        self.model = self.model.to(self.arithmetic.device)
        self.channels_last = self.task.channels_last and (
            recipe.channels_last if recipe.channels_last is not None else _has_conv(self.model)
        )
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.ema = (
            AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema), use_buffers=True
            )
            if recipe.ema > 0
            else None
        )

    def _loaders(self) -> tuple[BatchLoader, BatchLoader]:
        """The shuffled training batches (balanced if the objective weighs records) and the
        validation batches, read by the run's loader threads."""
        train = BatchLoader(
            self.train_split,
            self.recipe.batch_size,
            shuffle=True,
            drop_last=False,
            workers=self.loader_threads,
            seed=self.recipe.seed,
            pin_memory=self.arithmetic.device.type == "cuda",
            sample_weights=self.objective.sample_weights(),
            targets=self.task.targets,
            shard=self.group.shard,
        )
        val = BatchLoader(
            self.group.part(self.val_split),
            self.recipe.batch_size,
            workers=self.loader_threads,
            targets=self.task.targets,
        )
        return train, val

    def _initialise(self, source: Bundle) -> Initialisation:
        """Start from a saved model's weights (or a library's, pulled into one) where names
        and shapes match; its head only for the classes both score, matched by name."""
        outputs = self.task.outputs(self.dataset.classes)
        taken = load_matching(self.model, source.weights, labels=(source.labels, outputs))
        if not taken.copied:
            raise TrainError(
                f"model {self.recipe.init!r} has no weights that fit {self.recipe.network}"
            )
        return taken

    # -- the loop -----------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, event)(self, *args)

    def fit(self) -> TrainState:
        r, s = self.recipe, self.state
        fresh = s.step == 0 and s.epoch == 0 and not s.position
        if r.batchnorm == "reestimate" and fresh:
            batches = (self.prepare(i, t, train=False)[0] for i, t in self.loader.iterate())
            finetune.reestimate_batchnorm(self.model, batches)
        self.emit("before_fit")
        try:
            if r.finetune != "full" and fresh:
                self._probe()
            epochs = 1 if r.finetune == "linear-probe" else self.recipe.epochs
            while self.state.epoch < epochs and not self.schedule.over(self.state.step):
                self._epoch()
        except StopTraining:
            pass
        finally:
            self.emit("after_fit")
        return self.state

    def _epoch(self) -> None:
        r, s = self.recipe, self.state
        seed = epoch_seed(r.seed, s.epoch)
        if s.position == 0:
            torch.manual_seed(seed)  # dropout and mixing of this epoch
            self.generator.manual_seed(seed)  # augmentation of this epoch
            s.sums = {"loss": 0.0, "correct": 0.0, "seen": 0.0, "counted": 0.0}
        self.loader.set_epoch(s.epoch)
        self.model.train()
        waiting = finetune.gradually(self.model, r, s.epoch) if r.unfreeze_every else []
        for module in [*self.frozen, *waiting]:
            module.eval()  # frozen layers keep their batch-norm statistics too
        self.emit("before_epoch")
        for images, labels in self.loader.iterate(start=s.position):
            self._step(images, labels)
            s.position += 1
            self.emit("after_batch")
            if self.schedule.over(s.step):
                break
        sums = self.group.total(s.sums)
        metrics = {
            "epoch": s.epoch + 1,
            "train_loss": sums["loss"] / max(sums["seen"], 1),
            "lr": self.optimizer.param_groups[0]["lr"],
        }
        if sums["counted"]:
            metrics["train_accuracy"] = sums["correct"] / sums["counted"]
        due = (s.epoch + 1) % r.val_every == 0 or s.epoch + 1 == r.epochs
        due = due or self.schedule.over(s.step)
        self._close_epoch(metrics, self.validate() if due else None)

    def _probe(self) -> None:
        """The run's first epoch as a linear probe: the head fitted on the body's features
        of the unaugmented training images and validated on those of the validation images,
        both cached with the dataset (a second probe from the same body runs no network)."""
        r = self.recipe
        head = head_of(self.model)
        (inputs, labels), (val_inputs, val_labels) = self._features(head)
        loss = probe.fit_head(
            head,
            inputs,
            self._targets(labels),
            self.objective.loss,
            iterations=r.probe_epochs,
            weight_decay=r.weight_decay,
        )
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        batches = zip(val_inputs.split(r.batch_size), val_labels.split(r.batch_size), strict=True)
        with torch.no_grad():
            validation = self.objective.validate(head, batches, lambda x, y: (x, self._targets(y)))
        metrics = {"epoch": 1, "train_loss": loss, "lr": r.lr, "probe": 1.0}
        self._close_epoch(metrics, validation)

    def _features(self, head: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """What ``head`` receives for the training and validation splits' unaugmented
        images, and their labels, on the device."""

        def batches(split: Dataset) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            loader = BatchLoader(
                split,
                self.recipe.batch_size,
                workers=self.loader_threads,
                targets=self.task.targets,
            )
            return ((self.prepare(i, t, train=False)[0], t) for i, t in loader)

        with self.arithmetic.context():
            found = cached_features(
                self.model,
                head,
                [self.train_split, self.val_split],
                batches,
                size=self.input_size,
                dtype=self.arithmetic.dtype,
            )
        device = self.arithmetic.device
        return [(inputs.to(device), labels.to(device)) for inputs, labels in found]

    def _targets(self, labels: torch.Tensor) -> Any:
        return self.objective.targets(labels, tuple(self.dataset.size), train=False)

    def _close_epoch(self, metrics: dict[str, float], validation: dict[str, float] | None) -> None:
        """Keep the epoch's validation (when it had one) and the best, and tell the
        callbacks the epoch is over."""
        s = self.state
        if validation is not None:
            metrics.update(validation)
            value = metrics.get(self.metric)
            if value is not None:
                maximise = self.metric != "val_loss"
                self.schedule.observe(value, maximise=maximise)
                if s.best is None or (value > s.best if maximise else value < s.best):
                    s.best, s.best_epoch = value, s.epoch + 1
                    metrics["best"] = 1.0
        s.epoch += 1
        s.position = 0
        s.history.append(metrics)
        self.emit("after_epoch", metrics)

    def _step(self, images: torch.Tensor, labels: Any) -> None:
        r, s = self.recipe, self.state
        self.group.seed_batch(r.seed, s.epoch, s.position, self.generator)
        images, targets = self.prepare(images, labels, train=True)
        logits, loss = self.forward(images, targets)
        if not torch.isfinite(loss):
            raise TrainError(
                f"loss became {loss.item()} at epoch {s.epoch + 1}, batch {s.position + 1}: "
                "training stopped; the last good checkpoint is kept (try a lower lr)"
            )
        self.scaler.scale(loss * self.loader.weight(s.position) / r.accumulate).backward()
        last_batch = s.position + 1 == len(self.loader)
        if (s.position + 1) % r.accumulate == 0 or last_batch:
            for group in self.optimizer.param_groups:
                group["lr"] = self.schedule.rate(s.step) * group["lr_scale"]
            if r.clip_grad > 0:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), r.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            s.step += 1
        n = len(labels)
        s.sums["loss"] += loss.item() * n
        s.sums["seen"] += n
        correct, counted = self.objective.hits(
            None if logits is None else logits.detach(), labels, targets
        )
        s.sums["correct"] += correct
        s.sums["counted"] += counted

    def prepare(
        self, images: torch.Tensor, labels: Any, *, train: bool
    ) -> tuple[torch.Tensor, Any]:
        """A batch on the device at the input size, augmented for training."""
        images = images.to(self.arithmetic.device, non_blocking=True)
        stored = tuple(images.shape[2:])
        images = at_size(images, self.input_size)
        targets = self.objective.targets(labels, stored, train=train)
        if train:
            seed = epoch_seed(self.recipe.seed, self.state.epoch) + self.state.position
            images, targets = self.objective.augmented(images, targets, seed, self.generator)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, targets

    def forward(
        self, images: torch.Tensor, targets: Any
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The training model's outputs (None for a detector) and loss on a prepared batch."""
        with self.arithmetic.context():
            return self.objective.forward(self.trained, images, targets)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """The task's validation metrics of the weights to ship."""
        model = self.eval_model()
        model.eval()
        prepare = functools.partial(self.prepare, train=False)
        return self.objective.validate(model, self.val_loader, prepare, self.group.gather)

    def eval_model(self) -> nn.Module:
        """The weights to evaluate and ship: the EMA if there is one."""
        return self.ema.module if self.ema is not None else self.model

    # -- checkpoints --------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scaler": self.scaler.state_dict(),
            "schedule": self.schedule.state(),
            "state": self.state.as_dict(),
            "rng": torch.get_rng_state(),
            "augment_rng": self.generator.get_state(),
            "threads": self.threads,  # the order of float sums follows it: resumed with it
            "recipe": self.recipe.model_dump(mode="json"),
        }

    def restore(self, payload: dict[str, Any]) -> None:
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.ema is not None and payload["ema"] is not None:
            self.ema.load_state_dict(payload["ema"])
        self.scaler.load_state_dict(payload["scaler"])
        self.schedule.restore(payload["schedule"])
        self.state = TrainState(**payload["state"])
        torch.set_rng_state(payload["rng"])
        self.generator.set_state(payload["augment_rng"])


def _has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())
