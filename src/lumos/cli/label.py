"""`lumos label ...`: label projects from the terminal (the labelling itself is in the
workbench, `lumos ui`, at /label/NAME)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import fail, out

app = typer.Typer(help="Label projects: create, pre-label, check agreement, turn into a dataset.",
                  no_args_is_help=True)  # fmt: skip
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("create")
def label_create(
    name: str,
    task: Annotated[str, typer.Option(help="classification, detection or segmentation.")],
    classes: Annotated[str, typer.Option(help="The classes, comma-separated, in order.")],
    images: Annotated[Path | None, typer.Option(help="A folder of images to label.")] = None,
    dataset: Annotated[str | None, typer.Option(help="A dataset to correct.")] = None,
    multi_label: Annotated[bool, typer.Option(help="Several classes per image.")] = False,
) -> None:
    """Create a label project on a folder of images or on a dataset (to correct it)."""
    from lumos.label import start_project

    if (images is None) == (dataset is None):
        fail("give --images FOLDER or --dataset NAME")
    names = [c.strip() for c in classes.split(",")]
    project, problems = start_project(name, task, names, images=images, dataset=dataset,
                                      multi_label=multi_label)  # fmt: skip
    for problem in problems:
        out.print(f"skipped {problem}")
    count = len(project.rows("SELECT id FROM images"))
    given = f", labels to correct from {dataset}" if dataset else ""
    out.print(
        f"created label project {name}: {count} images{given}; label at /label/{name} (lumos ui)"
    )


@app.command("list")
def label_list(json_output: JsonOption = False) -> None:
    """The label projects and how far each has come."""
    from lumos.label import list_projects, progress

    rows = [{"name": p.name, "task": p.info.task, **progress(p)} for p in list_projects()]
    if json_output:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        out.print(
            "no label projects yet: lumos label create NAME --task ... --classes ... --images DIR"
        )
        return
    table = Table("name", "task", "images", "labelled", "annotators", "pre-labels kept")
    for row in rows:
        kept = row["prelabels_accepted"]
        people = ", ".join(row["annotators"]) or "–"
        shown = "–" if kept is None else f"{kept:.0%}"
        table.add_row(
            row["name"], row["task"], str(row["images"]), str(row["labelled"]), people, shown
        )
    out.print(table)


@app.command("status")
def label_status(name: str, json_output: JsonOption = False) -> None:
    """Progress and agreement between annotators of one project."""
    from lumos.label import LabelProject, agreement, progress

    project = LabelProject.open(name)
    report = {"progress": progress(project), "agreement": agreement(project)}
    if json_output:
        out.print_json(json.dumps(report))
        return
    done = report["progress"]
    out.print(f"{name} ({project.info.task}): {done['labelled']} of {done['images']} labelled, "
              f"{done['skipped']} skipped; by {done['annotators'] or 'nobody yet'}")  # fmt: skip
    if (kept := done["prelabels_accepted"]) is not None:
        out.print(f"pre-labels kept unchanged: {kept:.0%} of {done['prelabels_judged']}")
    for pair in report["agreement"]["pairs"]:
        measures = ", ".join(f"{k} {v:.3f}" for k, v in pair.items() if isinstance(v, float))
        out.print(f"{' and '.join(pair['annotators'])} on {pair['images']} images: {measures}")
    if report["agreement"]["all"]:
        out.print(f"everyone: {report['agreement']['all']}")


@app.command("prelabel")
def label_prelabel(
    name: str, model: Annotated[str, typer.Option(help="A saved model (name or .lumos file).")]
) -> None:
    """Pre-label every image with a model; the labelling page shows the most doubtful first."""
    from lumos.label import LabelProject, prelabel
    from lumos.progress import terminal_progress

    with terminal_progress() as bar:
        count = prelabel(
            LabelProject.open(name), model, progress=lambda d, t: bar("prelabel", d, t)
        )
    out.print(f"pre-labelled {count} images with {model}")


@app.command("finish")
def label_finish(
    name: str,
    dataset: Annotated[str, typer.Option(help="The dataset to create.")],
    new_version: Annotated[
        bool, typer.Option(help="If the dataset exists, create NAME-v2 (the next free) beside it.")
    ] = False,
) -> None:
    """Turn the labelled images into a dataset that records where its labels came from."""
    from lumos.data.dataset import Dataset
    from lumos.label import LabelProject, conflicts, finish

    project = LabelProject.open(name)
    for c in conflicts(project):
        out.print(f"{c['image']}: {c['chosen']}'s label taken ({c['rule']}), "
                  f"not {', '.join(c['overruled'])}'s")  # fmt: skip
    folder = finish(project, dataset, new_version=new_version)
    data = Dataset(folder)
    out.print(f"created dataset {folder.name}: {len(data)} records "
              f"(labels by {data.manifest['provenance']['labels_by']})")  # fmt: skip


@app.command("rm")
def label_rm(name: str) -> None:
    """Remove a label project (its datasets stay)."""
    from lumos.label import remove_project

    remove_project(name)
    out.print(f"removed label project {name}")
