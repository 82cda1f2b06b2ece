"""`lumos models import`: weights on disk as a saved model, with their labels and the input
transform they were trained with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from lumos.choices import Interpolation
from lumos.cli.common import floats_list, out, parse_shape

LabelsOption = Annotated[
    str | None,
    typer.Option(
        help="Class names: a file of one a line (as ILSVRC's synsets), or comma-separated "
        "(default: the --preprocess weights' own, else 0, 1, ...)."
    ),
]
PreprocessOption = Annotated[
    str | None,
    typer.Option(
        help="torchvision:NAME.TAG, timm:NAME.TAG or hf-hub:ORG/NAME: resize, crop and "
        "normalise as these "
        "weights' library does (e.g. timm:tf_efficientnet_lite0.in1k)."
    ),
]
TrainedOnOption = Annotated[
    str | None,
    typer.Option(
        help="The data it was trained on: any text, or a dataset here (then P2L can use it)."
    ),
]


def models_import(
    file: Annotated[Path, typer.Argument(help="safetensors, or a PyTorch state dict (.pt/.pth).")],
    network: Annotated[str, typer.Option(help="The zoo network (or timm:NAME) they fit.")],
    labels: LabelsOption = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Default: the file's stem.")
    ] = None,
    input_shape: Annotated[
        str | None, typer.Option("--input", help="CHANNELSxHEIGHTxWIDTH it expects.")
    ] = None,
    preprocess: PreprocessOption = None,
    normalize: Annotated[
        Literal["none", "imagenet"], typer.Option(help="imagenet: ImageNet's mean and std.")
    ] = "none",
    mean: Annotated[str | None, typer.Option(help="Per-channel mean, e.g. 0.5,0.5,0.5.")] = None,
    std: Annotated[str | None, typer.Option(help="Per-channel std, with --mean.")] = None,
    interpolation: Annotated[Interpolation | None, typer.Option()] = None,
    crop: Annotated[
        float | None,
        typer.Option(help="Centre crop: the share of the shorter side kept (timm's crop_pct)."),
    ] = None,
    trained_on: TrainedOnOption = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a model of the same name.")] = False,
) -> None:
    """Import weights you have on disk as a saved model: a source to fine-tune from.
    Only tensors are read; nothing in the file is unpickled or run."""
    from lumos.pretrained import IMAGENET, ImportRequest, class_names, import_model

    if (mean is None) != (std is None):
        raise typer.BadParameter("give --mean and --std together", param_hint="--mean")
    stats = (floats_list(mean, "--mean"), floats_list(std, "--std")) if mean and std else None
    request = ImportRequest(
        file,
        network,
        labels=class_names(labels) if labels else None,
        stats=stats or (IMAGENET if normalize == "imagenet" else None),
        input_shape=parse_shape(input_shape) if input_shape else None,
        trained_on=trained_on,
        preprocess=preprocess,
        interpolation=interpolation,
        crop=crop,
    )
    folder = import_model(request, name, overwrite=overwrite)
    out.print(f"imported {file} as model {folder.name} in {folder}", highlight=False)
