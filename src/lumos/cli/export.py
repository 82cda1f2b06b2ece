"""Making a model's deployable files: `lumos export` (ONNX, TorchScript, a Triton model) and
`lumos optimize` (fused, quantised, pruned ONNX artefacts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lumos.choices import ArtefactPrecision, ExportFormat, Pruning
from lumos.cli.common import MaxBatch, MaxDelay, ModelArgument, TrustCode, numbers_list, out

app = typer.Typer()

TritonFolder = Annotated[
    Path | None,
    typer.Option(help="Write a model of this Triton repository (DIR/NAME/1/model.onnx)."),
]
Preferred = Annotated[
    str | None,
    typer.Option(help="Triton: preferred batch sizes (default: from timing the export)."),
]


@app.command("export")
def export_command(
    model: ModelArgument,
    format: Annotated[ExportFormat, typer.Option("--format")] = "onnx",
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
    triton: TritonFolder = None,
    name: Annotated[str | None, typer.Option(help="Triton: the model's name.")] = None,
    max_batch: MaxBatch = 32,
    preferred: Preferred = None,
    max_delay_ms: MaxDelay = 5.0,
    instances: Annotated[int, typer.Option(help="Triton: copies of the model.", min=1)] = 1,
    overwrite: Annotated[bool, typer.Option(help="Triton: replace a model of that name.")] = False,
    trust_code: TrustCode = False,
) -> None:
    """Export a model to ONNX or TorchScript with its labels and preprocessing, checked
    against PyTorch on real images (max difference and agreement printed); or as a Triton
    Inference Server model (--triton DIR)."""
    from lumos.data import Dataset
    from lumos.deploy import Bundle
    from lumos.deploy.export import export_bundle

    bundle = Bundle.load(model)
    dataset = Dataset.open(data) if data else None
    if triton:
        from lumos.deploy.triton import write_model

        written = write_model(
            bundle,
            triton,
            name=name,
            max_batch=max_batch,
            preferred=numbers_list(preferred, "--preferred") if preferred else None,
            max_delay_ms=max_delay_ms,
            instances=instances,
            overwrite=overwrite,
            dataset=dataset,
            trust_code=trust_code,
        )
        for line in written.describe():
            out.print(line, highlight=False)
        return
    result = export_bundle(
        bundle,
        out_file,
        format=format,
        opset=opset,
        dynamic_batch=dynamic_batch,
        dataset=dataset,
        trust_code=trust_code,
    )
    out.print(f"{result.path} ({result.path.stat().st_size / 1e6:.2f} MB)", highlight=False)
    out.print(f"  {result.check.line()}", highlight=False)


@app.command("optimize")
def optimize_command(
    model: ModelArgument,
    precision: Annotated[ArtefactPrecision, typer.Option()] = "int8",
    calibrate: Annotated[
        str | None, typer.Option(help="Dataset whose training images calibrate INT8.")
    ] = None,
    prune: Annotated[
        float, typer.Option(help="Share of weights to zero first (0 = none).", min=0, max=0.95)
    ] = 0.0,
    pruning: Annotated[
        Pruning, typer.Option(help="Zero single weights, or remove whole channels.")
    ] = "unstructured",
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
