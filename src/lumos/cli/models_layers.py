"""`lumos models show` (a network's layers, parameters and FLOPs) and `lumos models
convert-fcn` (a classifier's dense layers as convolutions)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import ModelArgument, TrustCode, out, parse_shape


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
