"""`lumos models ...`: the zoo, saved models, their layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import ModelArgument, TrustCode, out, parse_shape

app = typer.Typer(
    help="The model zoo and saved models: list, save, show, remove.", no_args_is_help=True
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
        table = Table("model", "network", "dataset", "metrics", "created", title="saved models")
        for row in saved:
            metrics = ", ".join(
                f"{k} {v:.4f}" for k, v in row["metrics"].items() if k.startswith("val_")
            )
            table.add_row(
                row["name"], row["network"], row["dataset"] or "", metrics, row["created"] or ""
            )
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
