"""`lumos models ...`: the zoo, saved models, their layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import ModelArgument, TrustCode, out, parse_shape

app = typer.Typer(
    help="The model zoo and saved models: list, save, import, show, remove.", no_args_is_help=True
)


@app.command("list")
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
            {
                "name": e.name,
                "task": e.task,
                "family": e.family,
                "description": e.description,
                "input": list(e.default_input),
                "normalize": e.default_normalize,
            }
            for e in zoo
        ]
        print(json.dumps({"networks": networks, "saved": saved}, indent=2))
        return
    table = Table("network", "task", "input", "family", "description", title="model zoo")
    for entry in zoo:
        shape = "x".join(map(str, entry.default_input))
        table.add_row(entry.name, entry.task, shape, entry.family, entry.description)
    out.print(table)
    out.print("and any timm model as timm:NAME (e.g. timm:resnet18d)")
    if saved:
        columns = ("model", "network", "trained on", "from", "metrics", "created")
        table = Table(*columns, title="saved models")
        for row in saved:
            metrics = ", ".join(
                f"{k} {v:.4f}" for k, v in row["metrics"].items() if k.startswith("val_")
            )
            cells = (row["dataset"] or "", row["source"], metrics, row["created"] or "")
            table.add_row(row["name"], row["network"], *cells)
        out.print(table)


@app.command("save")
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


@app.command("import")
def models_import(
    file: Annotated[Path, typer.Argument(help="safetensors, or a PyTorch state dict (.pt/.pth).")],
    network: Annotated[str, typer.Option(help="The zoo network (or timm:NAME) they fit.")],
    labels: Annotated[
        str | None, typer.Option(help="Class names, comma-separated (default: 0, 1, ...).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Default: the file's stem.")
    ] = None,
    input_shape: Annotated[
        str | None, typer.Option("--input", help="CHANNELSxHEIGHTxWIDTH it expects.")
    ] = None,
    normalize: Annotated[
        str, typer.Option(help="none, or imagenet (torchvision's and timm's weights).")
    ] = "none",
    trained_on: Annotated[
        str | None,
        typer.Option(
            help="The data it was trained on: any text, or a dataset here (then P2L can use it)."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
) -> None:
    """Import weights you have on disk as a saved model: a source to fine-tune from.
    Only tensors are read; nothing in the file is unpickled or run."""
    from lumos.transfer import IMAGENET, ImportRequest, import_model

    if normalize not in ("none", "imagenet"):
        raise typer.BadParameter("choose none or imagenet", param_hint="--normalize")
    request = ImportRequest(
        file,
        network,
        labels=[c.strip() for c in labels.split(",")] if labels else None,
        stats=IMAGENET if normalize == "imagenet" else None,
        input_shape=parse_shape(input_shape) if input_shape else None,
        trained_on=trained_on,
    )
    folder = import_model(request, name, overwrite=overwrite)
    out.print(f"imported {file} as model {folder.name} in {folder}", highlight=False)


@app.command("rm")
def models_rm(name: str) -> None:
    """Remove a saved model."""
    from lumos.deploy import remove_bundle

    remove_bundle(name)
    out.print(f"removed {name}")


@app.command("convert-fcn")
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


@app.command("show")
def models_show(
    network: Annotated[str, typer.Argument(help="Zoo name, timm:NAME, or a YAML layer file.")],
    input_shape: Annotated[
        str | None,
        typer.Option("--input", help="CHANNELSxHEIGHTxWIDTH (default: what the network expects)."),
    ] = None,
    classes: Annotated[int, typer.Option(help="Number of classes.", min=1)] = 10,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per-layer output shape, parameters and FLOPs of a network, with totals."""
    from lumos.models import NetworkSpec, build_network, default_input, summarize

    channels, height, width = parse_shape(input_shape) if input_shape else default_input(network)
    spec = NetworkSpec.resolve(network, classes, channels, (height, width))
    summary = summarize(build_network(spec), (channels, height, width))
    if json_output:
        print(json.dumps(summary.as_dict(), indent=2))
        return
    table = Table(
        "layer",
        "type",
        "output",
        "params",
        "FLOPs",
        title=f"{network} on {channels}x{height}x{width}",
    )
    for row in summary.rows:
        shape = "x".join(str(d) for d in row.output_shape)
        table.add_row(row.name, row.kind, shape, f"{row.params:,}", f"{row.flops:,}")
    out.print(table)
    out.print(
        f"total: {summary.params:,} parameters ({summary.trainable:,} trainable), "
        f"{summary.flops / 1e6:,.2f} MFLOPs per image"
    )
