"""``lumos.evaluate(model, dataset, split)``: an evaluation as a job, its report in the folder."""

from __future__ import annotations

from pathlib import Path

from lumos.data import Dataset
from lumos.deploy.bundle import Bundle
from lumos.errors import LumosError
from lumos.evaluate.boxes import evaluate_detection
from lumos.evaluate.classification import ClassificationReport, evaluate
from lumos.evaluate.masks import evaluate_segmentation
from lumos.evaluate.report import write_report
from lumos.jobs import create_job, set_state
from lumos.workspace import Workspace


def run_evaluation(
    model: str | Path,
    dataset: str,
    split: str = "test",
    *,
    out: Path | None = None,
    workspace: Workspace | None = None,
    trust_code: bool = False,
) -> tuple[ClassificationReport, Path]:
    """Evaluate bundle ``model`` on ``split`` of ``dataset``; the report goes to ``out`` or the
    job's folder."""
    workspace = (workspace or Workspace()).ensure()
    bundle = Bundle.load(model, workspace)
    data = Dataset.open(dataset, workspace)
    job = create_job(
        workspace, "evaluate", {"model": str(model), "dataset": dataset, "split": split}
    )
    set_state(workspace, job, "running")
    folder = out or job.folder
    task = bundle.meta.get("task")
    try:
        if task == "detection":  # its report has files of its own: PR curves, COCO JSON
            report = evaluate_detection(bundle, data, split, folder, trust_code=trust_code)
        else:
            if task == "segmentation":
                report = evaluate_segmentation(bundle, data, split, trust_code=trust_code)
            else:
                report = evaluate(bundle, data, split, trust_code=trust_code)
            write_report(report, data, folder)
    except LumosError as e:
        set_state(workspace, job, "failed", str(e))
        raise
    set_state(workspace, job, "done")
    return report, folder
