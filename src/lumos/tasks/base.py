"""The shape of a task: what a trainer, an evaluator and a predictor ask of it.

A :class:`Task` is one object per kind of output (class scores, boxes, a mask). Everything
that differs between kinds lives behind it, so the training loop, the evaluation job and
the prediction entry point never ask which task they run. A training run asks its task for
an :class:`Objective`: the batch targets, the augmentation, the loss, the running
accuracy and the validation metrics of that run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lumos.arithmetic import Arithmetic
from lumos.data import Dataset
from lumos.data.augment import Augment
from lumos.data.geometry import Placement
from lumos.data.loader import Targets
from lumos.data.paired import PairedAugment
from lumos.errors import DataError
from lumos.models import NetworkSpec
from lumos.recipe import Recipe
from lumos.tasks.labelling import LabelKind
from lumos.tasks.preprocessing import Preprocessing
from lumos.tasks.report import Report

Batches = Iterable[tuple[torch.Tensor, Any]]  # (images, labels) as a loader yields them
# What every process of a run found on its part of a split, in rank order: [found] alone
Merge = Callable[[Any], list[Any]]


def alone(found: Any) -> list[Any]:
    """The :data:`Merge` of a run of one process."""
    return [found]


# An exported graph (or the same module in PyTorch): a float (N, C, H, W) batch in 0-1 at the
# input size to its outputs, in the order lumos exports them (lumos.deploy.export)
GraphRun = Callable[[np.ndarray], list[np.ndarray]]
Prepare = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]  # a val batch on the device


LOGIT_TOLERANCE = 1e-3  # of the largest logit; fp32 graphs agree with PyTorch to about 1e-6


class Seen(NamedTuple):
    """One input as a network sees it: what it is called (a file's path, ``array``, an
    uploaded file's name), its pixels preprocessed as in training ((H, W, C) uint8 at the
    stored size) and how it was placed on that canvas (answers in its pixels go back
    through it)."""

    source: str
    pixels: np.ndarray
    placement: Placement


class ExportGraph(NamedTuple):
    """What an export traces: the module, its output names and the translations of any
    custom operators it holds (``torch.onnx.export``'s ``custom_translation_table``)."""

    module: nn.Module
    outputs: list[str]
    translations: dict


class ExportAgreement(NamedTuple):
    """How an export's outputs on a batch compare with PyTorch's own."""

    max_abs_diff: float
    agreement: float  # share of the inputs (images, pixels, confident boxes) given the same class
    kind: str  # what is counted: "top-1", "pixel", "box"
    close_enough: bool  # whether the export may be written


class TrainedModel(Protocol):
    """What a task needs of a bundle to evaluate or use it (``lumos.bundle.Bundle``)."""

    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> list[str]: ...
    @property
    def multi_label(self) -> bool: ...
    @property
    def preprocessing(self) -> Preprocessing: ...
    @property
    def thresholds(self) -> list[float]: ...
    @property
    def score_threshold(self) -> float: ...
    @property
    def origin(self) -> str: ...
    @property
    def spec(self) -> NetworkSpec: ...
    @property
    def task(self) -> Task: ...
    def at_score_threshold(self, threshold: float) -> TrainedModel: ...
    def model(
        self, device: str | torch.device = "cpu", *, trust_code: bool = False
    ) -> nn.Module: ...


class Result(Protocol):
    """One input's answer, which serialises and draws itself."""

    source: str
    error: str | None

    def as_dict(self) -> dict[str, Any]: ...
    def served(self) -> dict[str, Any]: ...
    def describe(self) -> str: ...
    def rows(self) -> list[dict[str, Any]]: ...
    def display(self) -> list[dict[str, Any]]: ...
    def draw(self, image: Path | np.ndarray, out: Path) -> Path: ...


@dataclass
class Setup:
    """What a training run tells its task about itself."""

    recipe: Recipe
    dataset: Dataset
    train_split: Dataset
    input_size: tuple[int, int]
    arithmetic: Arithmetic

    @property
    def device(self) -> torch.device:
        return self.arithmetic.device


class Objective(ABC):
    """What one training run of a task computes: targets, loss, accuracy, validation."""

    def __init__(self, setup: Setup, num_outputs: int) -> None:
        self.setup = setup
        self.num_outputs = num_outputs
        self.augment = Augment(False, False, 1.0, 0.0, *_colour(setup.recipe))

    @abstractmethod
    def targets(self, labels: Any, stored: tuple[int, ...], *, train: bool) -> Any:
        """The loader's labels of a batch as the network's targets at the input size."""

    def augmented(
        self, images: torch.Tensor, targets: Any, seed: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, Any]:
        """A training batch augmented: geometry (with its targets where they have one),
        then colour and noise."""
        return self.augment(images, generator), targets

    def sample_weights(self) -> np.ndarray | None:
        """A weight per training record for a balanced sampler, or None to shuffle."""
        return None

    def forward(
        self, model: nn.Module, images: torch.Tensor, targets: Any
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The model's outputs (None where the model computes its own loss) and the loss."""
        logits = model(images)
        return logits, self.loss(logits, targets)

    def loss(self, logits: torch.Tensor, targets: Any) -> torch.Tensor:
        """The loss of a batch's outputs; a model that computes its own has no need of it."""
        raise NotImplementedError(f"{type(self).__name__} computes no loss from outputs")

    def scored_batches(
        self, model: nn.Module, loader: Batches, prepare: Prepare
    ) -> Iterator[tuple[torch.Tensor, Any, Any, float]]:
        """Each validation batch's outputs (float32), the loader's labels, the targets, and
        the batch's summed loss."""
        for images, labels in loader:
            images, targets = prepare(images, labels)
            with self.setup.arithmetic.context():
                logits = model(images).float()
            yield logits, labels, targets, self.loss(logits, targets).item() * len(labels)

    def hits(self, logits: torch.Tensor | None, labels: Any, targets: Any) -> tuple[float, float]:
        """(right, counted) of a training batch, for the running accuracy; (0, 0) if none."""
        return 0.0, 0.0

    @abstractmethod
    def validate(
        self, model: nn.Module, loader: Batches, prepare: Prepare, merge: Merge = alone
    ) -> dict[str, float]:
        """The validation metrics of ``model`` (in eval mode) on ``loader``: in a run of
        several processes, this process's part of the split, its counts ``merge``d with the
        others' before the metrics are computed."""


@dataclass(frozen=True)
class PretrainedStart:
    """A network of the task and the published weights a fine-tune of it starts from
    (``init``: ``torchvision:NAME.TAG``, ``timm:NAME.TAG``)."""

    network: str
    init: str


class Task(ABC):
    """One kind of output; ``name`` is what bundles, recipes and the web say."""

    name: ClassVar[str]
    noun: ClassVar[str]  # what a network of the task is called: "classifier", ...
    does: ClassVar[str]  # what such a network does: "classifies images", ...
    targets: ClassVar[Targets]  # what the loader yields for it
    default_metric: ClassVar[str]
    needs: ClassVar[str]  # what a dataset must hold, for messages: "labels", "boxes", ...
    example_network: ClassVar[str]  # named in messages
    background: ClassVar[bool] = False  # outputs are the background, then the classes
    finds_boxes: ClassVar[bool] = False  # the network itself returns boxes
    multi_label: ClassVar[bool] = False  # may give several labels where the data has them
    # Its networks serve as transfer sources: ranked (LogME, P2L), imported from a weights
    # file, fine-tuned in part (``finetune`` other than full)
    transfers: ClassVar[bool] = False
    # Each answer labels the whole image (classify-many scores it against its folder's name)
    labels_whole_images: ClassVar[bool] = False
    prunable: ClassVar[bool] = False  # whether `lumos optimize --prune` covers its networks
    label_kind: ClassVar[LabelKind | None] = None  # what `lumos label` asks a person for
    channels_last: ClassVar[bool] = True  # whether channels-last memory may help
    cpu_autocast: ClassVar[bool] = True  # whether ``precision: auto`` may pick bf16 on a CPU
    # How the task reads its exported graph: a module with graph_answer, graph_score,
    # tensors and tensor_specs (``lumos.tasks.<task>.graph``)
    graph: ClassVar[ModuleType]
    export_formats: ClassVar[tuple[str, ...]] = ("onnx", "torchscript")
    # What an export's logits must agree on with PyTorch's, and the share that must agree
    export_agrees_on: ClassVar[tuple[str, float]] = ("top-1", 1.0)
    # What ``preset=finetune`` may start from, the most accurate first, and the recipe
    # settings such a fine-tune takes
    pretrained: ClassVar[tuple[PretrainedStart, ...]] = ()
    fine_tuning: ClassVar[Mapping[str, Any]] = MappingProxyType({})

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    def __str__(self) -> str:
        return self.name

    def outputs(self, classes: Sequence[str]) -> list[str]:
        """The network's output labels for a dataset's classes."""
        return ["background", *classes] if self.background else list(classes)

    @abstractmethod
    def fits(self, dataset: Dataset) -> bool:
        """Whether a network of this task can learn from and be scored on ``dataset``."""

    @abstractmethod
    def suggested_network(self, size: tuple[int, int], channels: int) -> str:
        """A network of this task that suits images of ``size`` and ``channels``."""

    def recipe_problem(self, recipe: Recipe) -> str | None:
        """Why ``recipe`` cannot train a network of this task, or None."""
        if recipe.finetune != "full" and not self.transfers:
            return f"finetune: {recipe.finetune} is for classifiers ({self.noun}s: freeze_backbone)"
        return None

    def network_options(self, dataset: Dataset, input_size: tuple[int, int]) -> dict[str, Any]:
        """Options the network's builder takes from the data (a detector's anchors)."""
        return {}

    def tuned_settings(self, bundle: TrainedModel, validation: Dataset) -> dict[str, Any]:
        """Settings a saved model takes from its validation split (thresholds)."""
        return {}

    @abstractmethod
    def objective(self, setup: Setup) -> Objective:
        """What a training run on ``setup`` computes."""

    def example_loss(self, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """A training forward's loss on stand-in targets (every image, every pixel of the
        first class): the step a memory plan traces."""
        outputs = model(images)
        targets = torch.zeros(outputs.shape[0], *outputs.shape[2:], dtype=torch.long)
        return F.cross_entropy(outputs.float(), targets.to(outputs.device))

    def evaluate(
        self,
        bundle: TrainedModel,
        dataset: Dataset,
        split: str,
        folder: Path,
        *,
        trust_code: bool = False,
    ) -> Report:
        """The scores of ``bundle`` on ``split`` of ``dataset``; the report's files are
        written to ``folder``. Refused if the split is empty or of other classes."""
        part = dataset.split(split)
        if not len(part):
            raise DataError(None, f"dataset {dataset.name!r} has no {split} records")
        if self.outputs(dataset.classes) != bundle.labels:
            raise DataError(
                None, f"dataset {dataset.name!r} has other classes than model {bundle.name!r}"
            )
        return self.score(bundle, part, split, folder, trust_code=trust_code)

    @abstractmethod
    def score(
        self, bundle: TrainedModel, part: Dataset, split: str, folder: Path, *, trust_code: bool
    ) -> Report:
        """The report of ``bundle`` on ``part`` (checked to fit), written to ``folder``."""

    def write_results(
        self, bundle: TrainedModel, results: Sequence[Result], folder: Path
    ) -> list[Path]:
        """Files of predictions people look at (masks, pictures with boxes); none by default."""
        return []

    # -- the graph: what predicts (lumos.tasks.predictor) and what is exported (deploy) ---

    def export_graph(self, model: nn.Module, input_size: tuple[int, int]) -> ExportGraph:
        """The graph that predicts with ``model`` (a network at ``input_size``), in PyTorch
        and as exported: by default the network itself, giving ``logits``."""
        return ExportGraph(model, ["logits"], {})

    def export_agreement(
        self, reference: Any, runs: list[list[np.ndarray]], step: int
    ) -> ExportAgreement:
        """How the exported graph's outputs (``runs``: one list per ``step`` images of the
        batch) agree with ``reference``, PyTorch's logits on the whole batch: the largest
        difference within :data:`LOGIT_TOLERANCE` of the largest logit, and the class of
        every input (image or pixel) as often as :attr:`export_agrees_on` asks."""
        expected = reference.float().numpy()
        found = np.concatenate([run[0] for run in runs])
        diff = float(np.abs(expected - found).max())
        agreement = float((expected.argmax(1) == found.argmax(1)).mean())
        kind, needed = self.export_agrees_on
        close = diff <= LOGIT_TOLERANCE * max(1.0, float(np.abs(expected).max()))
        return ExportAgreement(diff, agreement, kind, close and agreement >= needed)

    def split_outputs(self, outputs: Sequence[np.ndarray], count: int) -> list[list[np.ndarray]]:
        """Each of ``count`` images' share of a batch's graph outputs: its row of each."""
        return [[output[i] for output in outputs] for i in range(count)]

    def graph_answer(
        self, bundle: TrainedModel, outputs: list[np.ndarray], seen: Seen, top: int
    ) -> Result:
        """One input's result from its share of the graph outputs (answers in its pixels
        go back through ``seen.placement``); ``top`` classes shown where there are any."""
        return self.graph.graph_answer(bundle, outputs, seen, top)

    def failed(self, bundle: TrainedModel, source: str, reason: str) -> Result:
        """The result of an input that could not be read."""
        return self.graph.failed(bundle, source, reason)

    def graph_score(self, bundle: TrainedModel, run: GraphRun, part: Dataset) -> tuple[str, float]:
        """(metric, value) of a graph on ``part``: what an optimised model is compared by."""
        return self.graph.graph_score(bundle, run, part)

    def tensors(self, bundle: TrainedModel, results: Sequence[Result]) -> dict[str, np.ndarray]:
        """Results as named tensors (the Open Inference Protocol's outputs); text as bytes."""
        return self.graph.tensors(bundle, results)

    def tensor_specs(self, bundle: TrainedModel) -> list[tuple[str, str, list[int]]]:
        """(name, datatype, shape) of :meth:`tensors`' outputs; -1 for a size that varies."""
        return self.graph.tensor_specs(bundle)


def paired_augment(setup: Setup) -> PairedAugment:
    """The geometric augmentation of a task whose labels move with the image."""
    r = setup.recipe
    size = tuple(setup.input_size)
    return PairedAugment(size, r.hflip, r.vflip, r.crop_scale, r.scale_jitter, r.rotation)  # type: ignore[arg-type]


def _colour(recipe: Recipe) -> tuple[float, bool, float]:
    """The augmentations that change pixels but not geometry: any task may use them."""
    return recipe.color_jitter, recipe.invert, recipe.noise
