"""The ``lumos`` command: one module per noun, each command a thin caller of one library
function. Help is plain text (sentences wrap as the terminal does) with the commands listed
under the noun they act on."""

from __future__ import annotations

from typing import Annotated

import click
import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from lumos import __version__
from lumos.cli import (
    data,
    evaluate,
    export,
    label,
    models,
    plan,
    results,
    serve,
    sweep,
    train,
    transfer,
    workbench,
)
from lumos.cli.common import fail, out
from lumos.errors import LumosError, Stopped

SECTIONS = {  # the help's headings, each with its commands in the order shown
    "Data": ["data", "label"],
    "Training": ["plan", "train", "sweep", "jobs", "lr-find"],
    "Models": ["models", "transfer", "predict", "detect", "eval"],
    "Deployment": ["export", "optimize", "bench", "serve"],
    "Workbench": ["ui", "demo"],
}


class NounGroup(TyperGroup):
    """Lists the commands under :data:`SECTIONS` instead of one alphabetical list."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = formatter.width - 6 - max(len(name) for name in self.commands)
        for section, names in SECTIONS.items():
            rows = [
                (name, self.commands[name].get_short_help_str(width))
                for name in names
                if name in self.commands and not self.commands[name].hidden
            ]
            with formatter.section(section):
                formatter.write_dl(rows)


app = typer.Typer(
    cls=NounGroup,
    help="lumos: a visual recognition workbench. Import images, train, evaluate, deploy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(data.app, name="data")
app.add_typer(label.app, name="label")
app.add_typer(models.app, name="models")
app.add_typer(transfer.app, name="transfer")
for commands in (
    plan.app,
    train.app,
    sweep.app,
    results.app,
    evaluate.app,
    export.app,
    serve.app,
    workbench.app,
):
    app.add_typer(commands)


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


def main() -> None:
    """Entry point: library errors become one line on stderr and exit code 2."""
    try:
        app()
    except Stopped as e:  # an interrupt is not an error: what was done is kept, and how to go on
        fail(str(e), 130)
    except LumosError as e:
        fail(f"error: {e}")
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        fail(f"error: {where}: {first['msg']}")
    except OSError as e:  # a path the user gave that cannot be written or read
        where = f"{e.filename}: " if e.filename else ""
        fail(f"error: {where}{e.strerror or e}")
    except KeyboardInterrupt:
        fail("interrupted; nothing half-written was kept", 130)
