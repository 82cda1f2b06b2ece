"""Segmentation: a class for every pixel (the background included)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType

from lumos.data import Dataset
from lumos.tasks.base import Objective, PretrainedStart, Setup, Task, TrainedModel
from lumos.tasks.report import Report, write_report
from lumos.tasks.segmentation import graph as mask_graph
from lumos.tasks.segmentation.labels import PolygonLabels
from lumos.tasks.segmentation.objective import MaskObjective
from lumos.tasks.segmentation.result import MaskPrediction, save_mask_outputs
from lumos.tasks.segmentation.scoring import evaluate_segmentation


class Segmentation(Task):
    name = "segmentation"
    label_kind = PolygonLabels()
    graph = mask_graph
    does = "segments images"
    noun = "segmenter"
    targets = "masks"
    default_metric = "val_miou"
    needs = "masks"
    example_network = "unet"
    background = True
    # bf16 autocast against fp32 on the shapes sample, 3 seeds each (benchmarks/goals.py, see
    # docs/BENCHMARKS.md): the semantic FPN lost mIoU (val 0.585 +- 0.137 against
    # 0.674 +- 0.056) while FCOS did not lose mAP50. So on a CPU, ``auto`` keeps fp32 for
    # segmenters even where bf16 is native.
    cpu_autocast = False
    export_agrees_on = ("pixel", 0.999)
    pretrained = (  # VOC-label mIoU on COCO as torchvision states it: 60.5, 60.3, 57.9
        PretrainedStart("fcn_resnet50", "torchvision:fcn_resnet50.COCO_WITH_VOC_LABELS_V1"),
        PretrainedStart(
            "deeplabv3_mobilenet_v3_large",
            "torchvision:deeplabv3_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1",
        ),
        PretrainedStart(
            "lraspp_mobilenet_v3_large",
            "torchvision:lraspp_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1",
        ),
    )
    fine_tuning = MappingProxyType({"lr": 0.01})

    def fits(self, dataset: Dataset) -> bool:
        return dataset.has_masks

    def suggested_network(self, size: tuple[int, int], channels: int) -> str:
        """The semantic FPN on a ResNet-18."""
        return "fpn_resnet18"

    def objective(self, setup: Setup) -> Objective:
        return MaskObjective(setup, len(self.outputs(setup.dataset.classes)))

    def score(
        self, bundle: TrainedModel, part: Dataset, split: str, folder: Path, *, trust_code: bool
    ) -> Report:
        report = evaluate_segmentation(bundle, part, split, trust_code=trust_code)
        write_report(report, part, folder)
        return report

    def write_results(
        self, bundle: TrainedModel, results: Sequence[MaskPrediction], folder: Path
    ) -> list[Path]:
        """``<stem>-mask.png`` and ``<stem>-overlay.png`` of every image."""
        return [
            path
            for result in results
            if not result.error
            for path in save_mask_outputs(result, folder, Path(result.source).stem)
        ]


SEGMENTATION = Segmentation()
