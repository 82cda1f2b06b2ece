"""``lumos.evaluate(model, dataset, split)``: an evaluation as a job, its report in the folder."""

from __future__ import annotations

from pathlib import Path

from lumos.data import Dataset
from lumos.deploy.bundle import Bundle
from lumos.evaluate.boxes import evaluate_detection
from lumos.evaluate.classification import ClassificationReport, evaluate
from lumos.evaluate.masks import evaluate_segmentation
from lumos.evaluate.report import write_report
from lumos.jobs import running_job
from lumos.workspace import Workspace


def run_evaluation(
    model: str | Path,
    dataset: str,
    split: str = "test",
    *,
    out: Path | None = None,
    workspace: Workspace | None = None,
    trust_code: bool = False,
    job_id: str | None = None,
) -> tuple[ClassificationReport, Path]:
    """Evaluate bundle ``model`` on ``split`` of ``dataset``; the report goes to ``out`` or the
    job's folder. ``job_id`` names a queued evaluation job to run; by default it is a new job."""
    workspace = (workspace or Workspace()).ensure()
    bundle = Bundle.load(model, workspace)
    data = Dataset.open(dataset, workspace)
    params = {"model": str(model), "dataset": dataset, "split": split}
    with running_job(workspace, "evaluate", params, job_id) as job:
        folder = out or job.folder
        task = bundle.meta.get("task")
        if task == "detection":  # its report has files of its own: PR curves, COCO JSON
            report = evaluate_detection(bundle, data, split, folder, trust_code=trust_code)
        else:
            if task == "segmentation":
                report = evaluate_segmentation(bundle, data, split, trust_code=trust_code)
            else:
                report = evaluate(bundle, data, split, trust_code=trust_code)
            write_report(report, data, folder)
    return report, folder
