"""Running a model: `lumos bench` (latency and throughput per backend) and `lumos serve` (an
HTTP inference server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lumos.choices import Backend
from lumos.cli.common import MaxBatch, MaxDelay, ModelArgument, TrustCode, numbers_list, out

app = typer.Typer()


@app.command("bench")
def bench_command(
    model: ModelArgument,
    backends: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: torch, torch-cuda, onnxruntime, onnxruntime-cuda, tensorrt, or "
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
    backend: Annotated[Backend, typer.Option()] = "onnxruntime",
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
    predictors = library.chosen(models or [], every=all_models)
    shown = f"[{host}]" if ":" in host else host
    for name in (p.bundle.name for p in predictors):
        out.print(f"serving {name} ({target}) on http://{shown}:{port}/v1/models/{name}/predict")
    out.print(f"(max batch {max_batch}, delay {max_delay_ms} ms each)", highlight=False)
    serve(predictors, settings, host, port, loader=library)
