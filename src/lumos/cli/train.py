"""Training from the command line: `lumos train`, `lumos jobs`, `lumos lr-find`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lumos.cli.common import out
from lumos.recipe import Recipe

app = typer.Typer()
NprocOption = Annotated[
    int | None, typer.Option(help="Training processes on this machine (torchrun).", min=1)
]
NnodesOption = Annotated[int, typer.Option(help="Machines the run spans.", min=1)]
NodeRankOption = Annotated[
    int, typer.Option(help="This machine's number; machine 0 keeps the job.", min=0)
]
RdzvOption = Annotated[
    str | None, typer.Option(help="HOST:PORT where the machines meet (--nnodes above 1).")
]
RdzvTimeoutOption = Annotated[
    float, typer.Option(help="Seconds the machines wait for each other.", min=1)
]


@app.command("train")
def train_command(
    settings: Annotated[
        list[str] | None,
        typer.Argument(
            help="A recipe YAML and/or KEY=VALUE settings that override it; preset=finetune "
            "fills in the rest to fine-tune published weights."
        ),
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
    control: Annotated[
        bool,
        typer.Option(
            "--control",
            help="With init=MODEL: then train a few epochs from scratch and say if MODEL helped.",
        ),
    ] = False,
    nproc: NprocOption = None,
    nnodes: NnodesOption = 1,
    node_rank: NodeRankOption = 0,
    rdzv: RdzvOption = None,
    rdzv_timeout: RdzvTimeoutOption = 300.0,
) -> None:
    """Train a network: `lumos train dataset=digits network=lenet5 epochs=10`, or a recipe YAML."""
    from lumos.train import train
    from lumos.train.callbacks import ProgressBar
    from lumos.train.control import run_control
    from lumos.train.launch import Processes
    from lumos.train.run import join
    from lumos.workspace import Workspace

    spread = nproc is not None or nnodes > 1
    processes = Processes(nproc or 1, nnodes, node_rank, rdzv, rdzv_timeout) if spread else None
    if processes is not None and not processes.leads:
        join(processes, device=device)
        out.print(f"machine {node_rank}: training done")
        return
    recipe = None if resume is not None else _recipe(settings or [])
    if control and recipe is not None and recipe.init is None:
        raise typer.BadParameter(
            "compares a run from init=MODEL with one from scratch: set init", param_hint="--control"
        )
    job = train(recipe, resume=resume, epochs=epochs, device=device, processes=processes)
    out.print(f"job {job.id}: {job.state}; checkpoints in {job.folder / 'checkpoints'}")
    if control:
        out.print("the control: the same recipe from scratch")
        comparison = run_control(
            job, Workspace().ensure(), callbacks=(ProgressBar(),), device=device
        )
        out.print(comparison.verdict())
        out.print("wrote " + ", ".join(str(job.folder / f) for f in comparison.files))


def _recipe(settings: list[str]) -> Recipe:
    """The recipe the settings make, with the preset one names; says what the preset chose
    and whether the planner expects an epoch to outlast the time limit."""
    from lumos.plan.forecast import time_limit_warning
    from lumos.plan.presets import with_preset
    from lumos.workspace import Workspace

    workspace = Workspace().ensure()
    preset = with_preset(settings, workspace)
    for line in [*preset.said, time_limit_warning(preset.recipe, workspace)]:
        if line:
            out.print(line, highlight=False)
    return preset.recipe


@app.command("jobs")
def jobs_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List jobs (imports, training, evaluations), newest first."""
    from lumos.jobs import job_title, list_jobs
    from lumos.workspace import Workspace

    rows = list_jobs(Workspace().ensure())
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    table = Table("job", "what", "state", "created", "finished", "error")
    for row in rows:
        table.add_row(
            row["id"],
            job_title(row["kind"], json.loads(row["params"])),
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

    finding = lr_find(Recipe.from_settings(settings), out_dir, start=start, end=end, steps=steps)
    out.print(f"suggested lr {finding.suggestion:.2e} ({len(finding.rates)} steps)")
    out.print("wrote " + ", ".join(str(p) for p in finding.files))
