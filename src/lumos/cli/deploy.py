"""Deploying a model: `lumos export`, `lumos optimize`, `lumos bench`, `lumos serve`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lumos.cli.common import ModelArgument, TrustCode, fail, numbers_list, out

if TYPE_CHECKING:
    from lumos.deploy.triton import TritonModel

app = typer.Typer()

# Options `export --triton` and `serve` share: how a server batches
MaxBatch = Annotated[int, typer.Option(help="Most images run together.", min=1)]
MaxDelay = Annotated[float, typer.Option(help="Longest wait for a batch to fill.", min=0.0)]
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

        _report_triton(
            write_model(
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
        )
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


def _report_triton(model: TritonModel) -> None:
    batching = model.batching
    out.print(f"{model.folder}: model.onnx, config.pbtxt, labels.txt", highlight=False)
    out.print(f"  {model.check.line()}", highlight=False)
    out.print(
        f"  dynamic batching up to {batching.max_batch}, preferred "
        f"{', '.join(map(str, batching.preferred))}"
        if batching.max_batch
        else "  unbatched: its outputs are ragged across a batch",
        highlight=False,
    )
    out.print(f"  run it: tritonserver --model-repository {model.folder.parent}", highlight=False)


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
        numbers_list(batch_sizes, "--batch-sizes"),
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
    models: Annotated[
        list[str] | None,
        typer.Argument(help="Saved model names, bundle folders or .lumos files."),
    ] = None,
    all_models: Annotated[
        bool, typer.Option("--all", help="Serve every saved model of the workspace.")
    ] = False,
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
    max_batch: MaxBatch = 32,
    max_delay_ms: MaxDelay = 5.0,
    max_queue: Annotated[
        int, typer.Option(help="Images waiting per model before 429.", min=1)
    ] = 256,
    max_body_mb: Annotated[int, typer.Option(help="Largest request body.", min=1)] = 16,
    token: Annotated[
        str | None, typer.Option(help="Access token every request must carry (or LUMOS_TOKEN).")
    ] = None,
    trust_code: TrustCode = False,
) -> None:
    """An HTTP inference server for one or more models, each with dynamic batching: POST
    images to /v1/models/NAME/predict (/v1/predict for the only one), or speak the Open
    Inference Protocol under /v2 (models load and unload through its repository API);
    /health, /ready and /metrics (Prometheus)."""
    from lumos.access import check_exposure
    from lumos.deploy.runtime import WorkspaceModels
    from lumos.deploy.serve import ServeSettings, serve
    from lumos.workspace import Workspace

    settings = ServeSettings(
        max_batch=max_batch,
        max_delay_ms=max_delay_ms,
        max_queue=max_queue,
        max_body_bytes=max_body_mb << 20,
        token=check_exposure(host, token),
    )
    target = f"{backend}:{artefact}" if artefact else backend
    library = WorkspaceModels(Workspace().ensure(), target, trust_code)
    if all_models == bool(models):
        fail("name the models to serve, or give --all (not both)")
    names = library.names() if all_models else list(models or [])
    if not names:
        fail("the workspace has no saved model to serve")
    predictors = [library.load(name) for name in names]
    shown = f"[{host}]" if ":" in host else host
    for name in (p.bundle.name for p in predictors):
        out.print(f"serving {name} ({target}) on http://{shown}:{port}/v1/models/{name}/predict")
    out.print(f"(max batch {max_batch}, delay {max_delay_ms} ms each)", highlight=False)
    serve(predictors, settings, host, port, loader=library)
