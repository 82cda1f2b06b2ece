"""The workbench in a browser (`lumos ui`) and the end-to-end demo (`lumos demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lumos.cli.common import out

app = typer.Typer()


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
