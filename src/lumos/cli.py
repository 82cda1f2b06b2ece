"""The ``lumos`` command. Every command is a thin wrapper over one library call."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from lumos import __version__
from lumos.errors import LumosError

if TYPE_CHECKING:
    from lumos.deploy import Bundle
    from lumos.train import Recipe

app = typer.Typer(
    help="lumos: a visual recognition workbench. Import images, train, evaluate, deploy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Import, inspect, export and remove datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
models_app = typer.Typer(
    help="The model zoo: list networks and show their layers.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
out = Console(soft_wrap=True)
ModelArgument = Annotated[
    str, typer.Argument(help="Saved model name, bundle folder or .lumos file.")
]
TrustCode = Annotated[
    bool, typer.Option(help="Allow a model whose network is Python code.")
]  # long paths stay on one line, as scripts expect


def _version(value: bool) -> None:
    if value:
        out.print(f"lumos {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """lumos: a visual recognition workbench."""


def _shape(text: str) -> tuple[int, int, int]:
    """'3x32x32' (channels x height x width) -> (3, 32, 32)."""
    match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*x\s*(\d+)\s*", text)
    if not match:
        raise typer.BadParameter("use CHANNELSxHEIGHTxWIDTH, e.g. 3x32x32", param_hint="--input")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def _size(text: str | None) -> tuple[int, int] | None:
    """'64' or 'WIDTHxHEIGHT' -> (height, width)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not match:
        raise typer.BadParameter("use N or WIDTHxHEIGHT, e.g. 28 or 64x48", param_hint="--size")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    return height, width


@data_app.command("import")
def data_import(
    source: Annotated[str, typer.Argument(help="Folder, file, or sample:digits / sample:shapes.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the new dataset.")],
    format: Annotated[str | None, typer.Option(help="Source format (detected if omitted).")] = None,
    task: Annotated[
        str | None, typer.Option(help="classification, detection or segmentation.")
    ] = None,
    size: Annotated[
        str | None, typer.Option(help="N or WIDTHxHEIGHT (default: the common source size).")
    ] = None,
    resize_mode: Annotated[str, typer.Option(help="squash, crop, fill or half-crop.")] = "squash",
    channels: Annotated[int | None, typer.Option(help="1 (grayscale) or 3 (colour).")] = None,
    val: Annotated[
        float, typer.Option(help="Percent for validation, where the source gives none.")
    ] = 15.0,
    test: Annotated[
        float, typer.Option(help="Percent for test, where the source gives none.")
    ] = 10.0,
    stratify: Annotated[bool, typer.Option(help="Same class shares in each split.")] = True,
    seed: Annotated[int, typer.Option(help="Seed for splits and sampling.")] = 0,
    min_per_class: Annotated[int, typer.Option(help="Drop classes with fewer images.")] = 0,
    max_per_class: Annotated[
        int | None, typer.Option(help="Keep at most this many per class.")
    ] = None,
    classes: Annotated[
        str | None, typer.Option(help="Class list, comma-separated, in order.")
    ] = None,
    dedupe: Annotated[bool, typer.Option(help="Drop exact duplicate images.")] = False,
    allow_one_class: Annotated[
        bool, typer.Option(help="Import a classification source with one class.")
    ] = False,
    max_pixels: Annotated[
        int | None, typer.Option(help="Refuse larger images (decompression bombs).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Decoding processes (default: all cores).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a dataset of the same name.")] = False,
    download: Annotated[bool, typer.Option(help="Fetch MNIST or CIFAR into SOURCE first.")] = False,
) -> None:
    """Import SOURCE as a new dataset: checked, resized and stored for fast reading."""
    from lumos.data import ImportOptions, import_dataset
    from lumos.data.formats import download_into
    from lumos.progress import terminal_progress

    values = {
        "format": format,
        "task": task,
        "size": _size(size),
        "resize_mode": resize_mode,
        "channels": channels,
        "val_percent": val,
        "test_percent": test,
        "stratify": stratify,
        "seed": seed,
        "min_per_class": min_per_class,
        "max_per_class": max_per_class,
        "classes": [c.strip() for c in classes.split(",")] if classes else None,
        "dedupe": dedupe,
        "allow_one_class": allow_one_class,
        "max_pixels": max_pixels,
        "workers": workers,
    }
    options = ImportOptions(**{k: v for k, v in values.items() if v is not None})
    if download:
        source = str(download_into(Path(source), format))
    with terminal_progress() as progress:
        folder = import_dataset(source, name, options, overwrite=overwrite, progress=progress)
    _print_summary(folder)


def _print_summary(folder: Path) -> None:
    from lumos.data import Dataset

    out.print(Dataset(folder).summary(), highlight=False, markup=False)


@data_app.command("list")
def data_list(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the datasets of the workspace."""
    from lumos.data import list_datasets

    rows = list_datasets()
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("no datasets yet: try `lumos data import sample:digits --name digits`")
        return
    table = Table("name", "task", "records", "classes", "created", "source")
    for row in rows:
        table.add_row(
            row["name"],
            row["task"],
            str(row["records"]),
            str(row["classes"]),
            row["created"],
            row["source"],
        )
    out.print(table)


@data_app.command("info")
def data_info(
    name: str,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts per class and split, size, mean/std, and every skipped file with its reason."""
    from lumos.data import Dataset

    dataset = Dataset.open(name)
    info = dataset.info()
    if json_output:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return
    height, width = dataset.size
    out.print(
        f"[bold]{dataset.name}[/]  {dataset.task}{' (multi-label)' if dataset.multi_label else ''}"
    )
    out.print(f"source    {info['source']} ({info['format']})")
    out.print(
        f"images    {width}x{height}, {dataset.channels} channel(s), resize {info['resize_mode']}"
    )
    out.print(f"mean/std  {_numbers(dataset.mean)} / {_numbers(dataset.std)}")
    out.print(f"mean image {dataset.folder / 'mean.png'}", highlight=False)
    if info.get("boxes"):
        boxes = info["boxes"]
        out.print(
            f"boxes     {boxes['count']} ({boxes['per_image_mean']:.2f} per image, up to "
            f"{boxes['per_image_max']}; {boxes['images_without_boxes']} images without); "
            f"width p5/p50/p95 {_numbers(boxes['width_p5_p50_p95'], 1)}, "
            f"height {_numbers(boxes['height_p5_p50_p95'], 1)}"
        )
    splits = [s for s, n in info["splits"].items() if n]
    table = Table("class", *splits, title=f"{len(dataset)} records")
    for cls in dataset.classes:
        table.add_row(cls, *(str(info["class_counts"].get(s, {}).get(cls, 0)) for s in splits))
    table.add_row("[bold]records[/]", *(str(info["splits"][s]) for s in splits))
    out.print(table)
    problems = info["report"]["problems"]
    for kind in ("skipped", "dropped", "warning"):
        of_kind = [p for p in problems if p["kind"] == kind]
        if of_kind:
            out.print(f"[bold]{kind}[/] ({len(of_kind)})")
            for p in of_kind:
                out.print(f"  {p['file']}: {p['reason']}", markup=False, highlight=False)
    duplicates = info["report"]["duplicates"]
    if duplicates:
        out.print(f"[bold]duplicates[/] ({len(duplicates)} groups)")
        for group in duplicates:
            out.print("  " + " = ".join(group), markup=False, highlight=False)


def _numbers(values: list[float], digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


@data_app.command("show")
def data_show(
    name: str,
    out_path: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    class_name: Annotated[str | None, typer.Option("--class", help="Only this class.")] = None,
    split: Annotated[str | None, typer.Option(help="Only this split.")] = None,
    count: Annotated[int, typer.Option(help="How many records.", min=1, max=1024)] = 64,
    seed: Annotated[int, typer.Option(help="Which random records.")] = 0,
) -> None:
    """Write a grid of sample images, with boxes and masks drawn, as a PNG."""
    from lumos.data import Dataset, sample_grid

    dataset = Dataset.open(name)
    if split is not None:
        dataset = dataset.split(split)
    written = sample_grid(dataset, out_path, class_name=class_name, count=count, seed=seed)
    out.print(f"wrote {written}")


@data_app.command("export")
def data_export(
    name: str,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="coco, voc, yolo, kitti, labelme, masks, folder, list, mnist or cifar.",
        ),
    ],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Folder to write.")],
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty folder.")] = False,
) -> None:
    """Write a dataset out in a source format (lossless PNG images)."""
    from lumos.data import export_dataset

    written = export_dataset(name, format, out_path, overwrite=overwrite)
    out.print(f"wrote {written}")


@data_app.command("rm")
def data_rm(name: str) -> None:
    """Remove a dataset."""
    from lumos.data import remove_dataset

    remove_dataset(name)
    out.print(f"removed {name}")


@app.command("train")
def train_command(
    settings: Annotated[
        list[str] | None,
        typer.Argument(help="A recipe YAML and/or KEY=VALUE settings that override it."),
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue this job from its checkpoint.")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="With --resume: train to this many epochs.", min=1)
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: cuda if present).")
    ] = None,
) -> None:
    """Train a network: `lumos train dataset=digits network=lenet5 epochs=10`, or a recipe YAML."""
    from lumos.train import train

    recipe = None if resume is not None else _recipe_from(settings or [])
    job = train(recipe, resume=resume, epochs=epochs, device=device)
    out.print(f"job {job.id}: {job.state}; checkpoints in {job.folder / 'checkpoints'}")


@app.command("jobs")
def jobs_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List jobs (imports, training, evaluations), newest first."""
    from lumos.jobs import list_jobs
    from lumos.workspace import Workspace

    rows = list_jobs(Workspace().ensure())
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    table = Table("job", "kind", "state", "created", "finished", "error")
    for row in rows:
        table.add_row(
            row["id"],
            row["kind"],
            row["state"],
            row["created"],
            row["finished"] or "",
            row["error"] or "",
        )
    out.print(table)


@app.command("lr-find")
def lr_find_command(
    settings: Annotated[list[str], typer.Argument(help="A recipe YAML and/or KEY=VALUE settings.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where the plot and CSV go.")] = Path(
        "lr-find"
    ),
    start: Annotated[float, typer.Option(help="First learning rate.")] = 1e-7,
    end: Annotated[float, typer.Option(help="Last learning rate.")] = 10.0,
    steps: Annotated[int, typer.Option(help="At most this many steps.", min=5)] = 100,
) -> None:
    """The learning-rate range test: loss against a growing rate, with a suggestion and a plot."""
    from lumos.train.lr_find import lr_find

    finding = lr_find(_recipe_from(settings), out_dir, start=start, end=end, steps=steps)
    out.print(f"suggested lr {finding.suggestion:.2e} ({len(finding.rates)} steps)")
    out.print("wrote " + ", ".join(str(p) for p in finding.files))


def _recipe_from(settings: list[str]) -> Recipe:
    """A recipe from YAML files and KEY=VALUE settings, later ones winning."""
    from lumos.train import Recipe

    values: dict = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if sep:
            values[key.strip()] = yaml.safe_load(value)
        else:
            values.update(Recipe.load(Path(item)).model_dump(exclude_unset=True))
    return Recipe.parse(values, "command line")


@models_app.command("list")
def models_list(
    pattern: Annotated[
        str, typer.Argument(help="Shell-style filter on zoo names, e.g. 'resnet*'.")
    ] = "*",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The networks of the zoo (and any timm model as timm:NAME), then the saved models."""
    from lumos.deploy import list_bundles
    from lumos.models import list_models

    zoo = list_models(pattern)
    saved = list_bundles()
    if json_output:
        networks = [
            {"name": e.name, "task": e.task, "family": e.family, "description": e.description}
            for e in zoo
        ]
        print(json.dumps({"networks": networks, "saved": saved}, indent=2))
        return
    table = Table("network", "task", "family", "description", title="model zoo")
    for entry in zoo:
        table.add_row(entry.name, entry.task, entry.family, entry.description)
    out.print(table)
    out.print("and any timm model as timm:NAME (e.g. timm:resnet18d)")
    if saved:
        table = Table("model", "network", "dataset", "metrics", "created", title="saved models")
        for row in saved:
            metrics = ", ".join(
                f"{k} {v:.4f}" for k, v in row["metrics"].items() if k.startswith("val_")
            )
            table.add_row(
                row["name"], row["network"], row["dataset"] or "", metrics, row["created"] or ""
            )
        out.print(table)


@models_app.command("save")
def models_save(
    job: Annotated[str, typer.Argument(help="A finished (or stopped) training job.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the saved model.")],
    file: Annotated[
        Path | None, typer.Option(help="Also write a portable .lumos file here.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
) -> None:
    """Save a training job's best weights as a model (a bundle)."""
    from lumos.deploy import Bundle
    from lumos.deploy.from_job import bundle_from_job

    folder = bundle_from_job(job, name, overwrite=overwrite)
    out.print(f"saved model {name} in {folder}")
    if file is not None:
        out.print(f"wrote {Bundle.load(folder).save(file)}")


@models_app.command("rm")
def models_rm(name: str) -> None:
    """Remove a saved model."""
    from lumos.deploy import remove_bundle

    remove_bundle(name)
    out.print(f"removed {name}")


@models_app.command("convert-fcn")
def models_convert_fcn(
    model: ModelArgument,
    trust_code: TrustCode = False,
) -> None:
    """Rewrite a classifier's fully connected layers as convolutions and check the result."""
    from lumos.deploy import Bundle
    from lumos.tasks.detection.search import Detector

    detector = Detector(Bundle.load(model), trust_code=trust_code)
    for line in detector.conversion.replaced:
        out.print(f"  {line}", highlight=False)
    difference, stride = detector.check_conversion()
    height, width = detector.window
    out.print(
        f"stride {stride} px; heat-map vs sliding-window scores, {width * 3}x{height * 3} image: "
        f"max difference {difference:.2e}"
        + ("" if difference < 1e-4 else " (the network pads its inputs)"),
        highlight=False,
    )


@app.command("detect")
def detect_command(
    model: Annotated[
        str, typer.Argument(help="A detection model, or a classifier with a 'background' class.")
    ],
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders.")],
    method: Annotated[
        str | None,
        typer.Option(help="sliding-window or heatmap for a classifier; a detector needs none."),
    ] = None,
    stride: Annotated[
        int, typer.Option(help="Window step in pixels (sliding-window).", min=1)
    ] = 16,
    scales: Annotated[str, typer.Option(help="Comma-separated image scales, e.g. 1,0.5.")] = "1",
    threshold: Annotated[
        float | None, typer.Option(help="Lowest score kept (default: the model's, tuned).")
    ] = None,
    tile: Annotated[
        int | None, typer.Option(help="Search large images in tiles of this size.", min=8)
    ] = None,
    overlap: Annotated[float, typer.Option(help="Share of a tile its neighbours overlap.")] = 0.2,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where detections.json and pictures go.")
    ] = Path("detections"),
    trust_code: TrustCode = False,
) -> None:
    """Find objects: with a detection model, or with a classifier slid over the image or run
    as a heat map. Writes pictures with boxes and detections.json (COCO results)."""
    from lumos.deploy import Bundle

    try:
        scale_values = tuple(float(v) for v in scales.split(","))
    except ValueError:
        raise typer.BadParameter("use numbers like 1,0.5", param_hint="--scales") from None
    _detect_files(
        Bundle.load(model),
        inputs,
        out_dir,
        trust_code,
        method=method,
        stride=stride,
        scales=scale_values,
        threshold=threshold,
        tile=tile,
        overlap=overlap,
    )


def _detect_files(
    bundle: Bundle, inputs: list[Path], out_dir: Path, trust_code: bool, **options: Any
) -> None:
    """Detect in every image: a picture with boxes each, and one COCO results file."""
    from lumos.tasks.detection.search import detect_files
    from lumos.tasks.inputs import expand

    results = detect_files(bundle, expand(inputs), out_dir, trust_code=trust_code, **options)
    for found in results:
        if found.error:
            print(f"{found.source}: {found.error}", file=sys.stderr)
        else:
            out.print(found.describe(), highlight=False)
    out.print(f"wrote {out_dir / 'detections.json'}")
    if results and all(found.error for found in results):
        raise typer.Exit(2)


@app.command("predict")
def predict_command(
    model: ModelArgument,
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders.")],
    top: Annotated[int, typer.Option(help="How many classes to show.", min=1)] = 5,
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Where masks and overlays, or boxes drawn, are written."),
    ] = Path("predictions"),
    trust_code: TrustCode = False,
) -> None:
    """Classify images (`lumos predict digits-lenet photo.png` -> `8  99.69%`); a segmenter
    writes masks and overlays, a detector pictures with boxes and COCO results."""
    from lumos.deploy import Bundle
    from lumos.tasks.inputs import expand

    if output not in ("table", "json", "csv"):
        raise typer.BadParameter("choose table, json or csv", param_hint="--format")
    bundle = Bundle.load(model)
    results = bundle.predict(expand(inputs), top=top, trust_code=trust_code)
    written = bundle.task.write_results(bundle, results, out_dir)
    if output == "json":
        print(json.dumps([r.as_dict() for r in results], indent=2))
    elif output == "csv":
        rows = [row for r in results for row in r.rows()]
        writer = csv.DictWriter(sys.stdout, [*dict.fromkeys(k for row in rows for k in row)])
        writer.writeheader()
        writer.writerows(rows)
    else:
        for r in results:
            if r.error:
                print(f"{r.source}: {r.error}", file=sys.stderr)
            else:
                out.print(r.describe(), highlight=False)
    if written:
        out.print(f"wrote {len(written)} files to {out_dir}", highlight=False)
    if results and all(r.error for r in results):
        raise typer.Exit(2)


@app.command("eval")
def eval_command(
    model: Annotated[
        str | None, typer.Argument(help="Saved model name, bundle folder or .lumos file.")
    ] = None,
    data: Annotated[str | None, typer.Option("--data", "-d", help="Dataset to score on.")] = None,
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default: the job folder).")
    ] = None,
    trust_code: TrustCode = False,
    coco_gt: Annotated[
        Path | None, typer.Option(help="Score a COCO results file against this ground truth.")
    ] = None,
    coco_results: Annotated[
        Path | None, typer.Option(help="COCO results file (with --coco-gt).")
    ] = None,
) -> None:
    """Evaluate a model (accuracy, per-class metrics, confusion matrix, top losses,
    calibration), or score COCO detections: `lumos eval --coco-gt GT.json --coco-results R.json`."""
    if coco_gt is not None or coco_results is not None:
        _eval_coco(coco_gt, coco_results, out_dir)
        return
    if model is None or data is None:
        raise typer.BadParameter("give MODEL and --data, or --coco-gt and --coco-results")
    from lumos.evaluate import run_evaluation

    report, folder = run_evaluation(model, data, split, out=out_dir, trust_code=trust_code)
    shown = "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.metrics.items()
    )
    out.print(f"{report.dataset} {report.split}: {shown}", highlight=False)
    for true, predicted, count in report.confused_pairs[:5]:
        out.print(f"  confused {true} -> {predicted}: {count}", highlight=False)
    out.print(f"report in {folder}")


def _eval_coco(gt: Path | None, results: Path | None, out_dir: Path | None) -> None:
    from lumos.evaluate import coco_metrics
    from lumos.tasks.detection.coco import detection_report

    if gt is None or results is None:
        raise typer.BadParameter("--coco-gt and --coco-results go together")
    metrics = (
        coco_metrics(gt, results) if out_dir is None else detection_report(gt, results, out_dir)
    )
    table = Table("metric", "value", title=f"{results.name} against {gt.name}")
    for key, value in metrics.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.4f}")
    for name, value in zip(metrics["classes"], metrics["map_per_class"], strict=True):
        table.add_row(f"AP {name}", f"{value:.4f}")
    out.print(table)
    if out_dir is not None:
        out.print(f"report in {out_dir}")


@models_app.command("show")
def models_show(
    network: Annotated[str, typer.Argument(help="Zoo name, timm:NAME, or a YAML layer file.")],
    input_shape: Annotated[
        str, typer.Option("--input", help="CHANNELSxHEIGHTxWIDTH.")
    ] = "3x224x224",
    classes: Annotated[int, typer.Option(help="Number of classes.", min=1)] = 10,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per-layer output shape, parameters and FLOPs of a network, with totals."""
    from lumos.models import NetworkSpec, build_network, summarize

    channels, height, width = _shape(input_shape)
    spec = NetworkSpec.resolve(network, classes, channels, (height, width))
    summary = summarize(build_network(spec), (channels, height, width))
    if json_output:
        print(json.dumps(summary.as_dict(), indent=2))
        return
    table = Table("layer", "type", "output", "params", "FLOPs", title=f"{network} on {input_shape}")
    for row in summary.rows:
        shape = "x".join(str(d) for d in row.output_shape)
        table.add_row(row.name, row.kind, shape, f"{row.params:,}", f"{row.flops:,}")
    out.print(table)
    out.print(
        f"total: {summary.params:,} parameters ({summary.trainable:,} trainable), "
        f"{summary.flops / 1e6:,.2f} MFLOPs per image"
    )


@app.command("ui")
def ui_command(
    host: Annotated[str, typer.Option(help="Address to bind; not loopback needs --token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port.", min=1, max=65535)] = 5000,
    token: Annotated[
        str | None, typer.Option(help="Access token every request must carry (or LUMOS_TOKEN).")
    ] = None,
    allow: Annotated[
        list[Path] | None,
        typer.Option(help="A folder forms may import from (repeatable; default: this folder)."),
    ] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest upload accepted.", min=1)] = 1024,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(help="A host name browsers may reach this server by (repeatable)."),
    ] = None,
    training_jobs: Annotated[
        int, typer.Option(help="Training jobs run at the same time.", min=1)
    ] = 1,
) -> None:
    """The workbench in a browser: datasets, training with live charts, testing models."""
    from lumos.access import check_exposure
    from lumos.web.server import serve
    from lumos.web.settings import WebSettings
    from lumos.workspace import Workspace

    settings = WebSettings(
        Workspace(),
        token=check_exposure(host, token),
        host=host,
        allowed_hosts=list(allowed_host or []),
        roots=list(allow or []),
        max_upload_bytes=max_upload_mb << 20,
        max_training_jobs=training_jobs,
    )
    shown = f"[{host}]" if ":" in host else host
    suffix = f"/?token={settings.token}" if settings.token else "/"
    out.print(
        f"lumos workbench on http://{shown}:{port}{suffix} (workspace {settings.workspace.root})"
    )
    serve(settings, host, port)


@app.command("export")
def export_command(
    model: ModelArgument,
    format: Annotated[str, typer.Option("--format", help="onnx or torchscript.")] = "onnx",
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = 18,
    dynamic_batch: Annotated[
        bool, typer.Option(help="Let the graph take any batch size (ONNX).")
    ] = True,
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="Check on this dataset's test images.")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: the bundle's artefacts).")
    ] = None,
    trust_code: TrustCode = False,
) -> None:
    """Export a classifier to ONNX or TorchScript with its labels and preprocessing, checked
    against PyTorch on real images (max difference and top-1 agreement printed)."""
    from lumos.data import Dataset
    from lumos.deploy import Bundle
    from lumos.deploy.export import export_bundle

    bundle = Bundle.load(model)
    result = export_bundle(
        bundle,
        out_file,
        format=format,
        opset=opset,
        dynamic_batch=dynamic_batch,
        dataset=Dataset.open(data) if data else None,
        trust_code=trust_code,
    )
    out.print(f"{result.path} ({result.path.stat().st_size / 1e6:.2f} MB)", highlight=False)
    out.print(f"  {result.check.line()}", highlight=False)


@app.command("optimize")
def optimize_command(
    model: ModelArgument,
    precision: Annotated[str, typer.Option(help="fp32, fp16, int8 or int8-dynamic.")] = "int8",
    calibrate: Annotated[
        str | None, typer.Option(help="Dataset whose training images calibrate INT8.")
    ] = None,
    prune: Annotated[
        float, typer.Option(help="Share of weights to zero first (0 = none).", min=0, max=0.95)
    ] = 0.0,
    pruning: Annotated[str, typer.Option(help="unstructured or channels.")] = "unstructured",
    finetune: Annotated[
        int,
        typer.Option(help="Epochs of fine-tuning after pruning (pruned weights stay 0).", min=0),
    ] = 0,
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="Dataset to score on (default: its own).")
    ] = None,
    split: Annotated[str, typer.Option(help="Split to score on.")] = "test",
    trust_code: TrustCode = False,
) -> None:
    """Fuse, quantise and/or prune a classifier into an ONNX artefact, scored on the test
    split next to fp32 and recorded in the bundle (a job: `lumos jobs` lists it)."""
    from lumos.deploy.optimize import run_optimization

    artefact = run_optimization(
        model,
        precision=precision,
        dataset=data,
        calibrate=calibrate,
        prune=prune,
        pruning=pruning,
        finetune=finetune,
        split=split,
        trust_code=trust_code,
    )
    layers = artefact.layers
    out.print(
        f"layers: {layers.pytorch} in PyTorch -> {layers.onnx} exported -> {layers.fused} fused",
        highlight=False,
    )
    out.print(
        f"{artefact.file}: {artefact.metric} {artefact.score:.4f} on {artefact.dataset} "
        f"{artefact.split} (fp32 {artefact.baseline:.4f}, {artefact.delta:+.4f}); "
        f"{artefact.size_bytes / 1e6:.2f} MB",
        highlight=False,
    )


def _numbers_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of numbers", param_hint=what
        ) from None
    if not values or min(values) < 1:
        raise typer.BadParameter("give numbers of at least 1", param_hint=what)
    return values


@app.command("bench")
def bench_command(
    model: ModelArgument,
    backends: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: torch, onnxruntime, onnxruntime-cuda, tensorrt, or "
            "backend:artefact (onnxruntime:int8). Default: torch, onnxruntime and every artefact."
        ),
    ] = None,
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes.")] = "1,8,32,128",
    seconds: Annotated[
        float, typer.Option(help="Least time measured per batch size.", min=0.0)
    ] = 1.0,
    out_dir: Annotated[Path, typer.Option("--out", help="Where CSV, JSON and PNG go.")] = Path(
        "bench"
    ),
    trust_code: TrustCode = False,
) -> None:
    """Latency (p50/p95/p99) and throughput per backend and batch size, warm-up excluded."""
    from lumos.deploy import Bundle
    from lumos.deploy.bench import benchmark, machine, write_results

    bundle = Bundle.load(model)
    about = machine()
    out.print(
        f"{about['cpu']}, {about['cores']} cores ({' '.join(about['cpu_flags'])}); "
        f"GPU: {about['gpu'] or 'none'}",
        highlight=False,
    )
    out.print(f"{'target':<28}{'batch':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'img/s':>10}")
    rows = benchmark(
        bundle,
        [t.strip() for t in backends.split(",") if t.strip()] if backends else None,
        _numbers_list(batch_sizes, "--batch-sizes"),
        min_seconds=seconds,
        on_row=lambda r: out.print(
            f"{r.target:<28}{r.batch:>6}{r.p50_ms:>10.2f}{r.p95_ms:>10.2f}{r.p99_ms:>10.2f}"
            f"{r.images_per_s:>10.1f}",
            highlight=False,
        ),
        trust_code=trust_code,
    )
    files = write_results(rows, out_dir, f"{bundle.name} on {about['cores']} cores")
    out.print(f"results in {', '.join(str(f) for f in files)}", highlight=False)


@app.command("serve")
def serve_command(
    model: ModelArgument,
    host: Annotated[str, typer.Option(help="Address to bind; not loopback needs --token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port.", min=1, max=65535)] = 8000,
    backend: Annotated[
        str, typer.Option(help="torch, onnxruntime, onnxruntime-cuda or tensorrt.")
    ] = "onnxruntime",
    artefact: Annotated[
        str | None, typer.Option(help="An optimised artefact to run (int8, fp16, ...).")
    ] = None,
    max_batch: Annotated[int, typer.Option(help="Most images run together.", min=1)] = 32,
    max_delay_ms: Annotated[
        float, typer.Option(help="Longest wait for a batch to fill.", min=0.0)
    ] = 5.0,
    max_queue: Annotated[int, typer.Option(help="Images waiting before 429.", min=1)] = 256,
    max_body_mb: Annotated[int, typer.Option(help="Largest request body.", min=1)] = 16,
    token: Annotated[
        str | None, typer.Option(help="Access token every request must carry (or LUMOS_TOKEN).")
    ] = None,
    trust_code: TrustCode = False,
) -> None:
    """An HTTP inference server with dynamic batching: POST images to /v1/predict; /health,
    /ready and /metrics (Prometheus)."""
    from lumos.access import check_exposure
    from lumos.deploy import Bundle
    from lumos.deploy.runtime import predictor_for
    from lumos.deploy.serve import ServeSettings, serve

    settings = ServeSettings(
        max_batch=max_batch,
        max_delay_ms=max_delay_ms,
        max_queue=max_queue,
        max_body_bytes=max_body_mb << 20,
        token=check_exposure(host, token),
    )
    bundle = Bundle.load(model)
    predictor = predictor_for(
        bundle, f"{backend}:{artefact}" if artefact else backend, trust_code=trust_code
    )
    shown = f"[{host}]" if ":" in host else host
    out.print(
        f"serving {bundle.name} ({backend}{':' + artefact if artefact else ''}) on "
        f"http://{shown}:{port}/v1/predict (max batch {max_batch}, delay {max_delay_ms} ms)",
        highlight=False,
    )
    serve(predictor, settings, host, port)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the pictures go.")] = Path(
        "demo-output"
    ),
) -> None:
    """The whole loop on built-in data: import, train LeNet on digits, evaluate, save, predict."""
    from lumos.demo import run_demo
    from lumos.progress import terminal_progress

    run_demo(
        out_dir,
        say=lambda line: out.print(line, highlight=False, markup=False),
        import_progress=terminal_progress,
    )


def _fail(message: str, code: int = 2) -> None:
    # Plain print, not rich: one line, never wrapped to the terminal width.
    print(f"lumos: {message}", file=sys.stderr)
    sys.exit(code)


def main() -> None:
    """Entry point: library errors become one line on stderr and exit code 2."""
    # Before torch loads OpenMP: its waiting threads sleep instead of spinning, so a training
    # beside another busy process keeps 0.54x of its speed instead of 0.21x, for ~4% when
    # alone (docs/BENCHMARKS.md). OMP_WAIT_POLICY=ACTIVE in the environment keeps spinning.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except LumosError as e:
        _fail(f"error: {e}")
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        _fail(f"error: {where}: {first['msg']}")
    except OSError as e:  # a path the user gave that cannot be written or read
        where = f"{e.filename}: " if e.filename else ""
        _fail(f"error: {where}{e.strerror or e}")
    except KeyboardInterrupt:
        _fail("interrupted; nothing half-written was kept", 130)
