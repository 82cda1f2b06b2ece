"""The house rules that keep the code readable, checked on every run (docs/architecture.md;
the import arrows are checked by import-linter in `make test`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import lumos

SOURCE = Path(lumos.__file__).parent
MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 60
MAX_FRONT_END_LINES = 150  # the CLI and the web parse and print; the library does the work
TASK_TEST = re.compile(r"""(==|!=)=?\s*["'](classification|detection|segmentation)["']""")
# A task by its object or a property standing in for "is a classifier / a detector"
TASK_STAND_IN = re.compile(
    r"\b(CLASSIFICATION|DETECTION|SEGMENTATION)\b|\.(scores_images|finds_boxes)\b"
)


def _sources(*suffixes: str) -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*") if p.suffix in suffixes)


def test_no_file_or_function_is_too_long() -> None:
    long = []
    for path in _sources(".py"):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_FILE_LINES:
            long.append(f"{path.relative_to(SOURCE)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SOURCE)}: {node.name} has {size} lines")
    assert not long, long


def test_front_end_modules_stay_small() -> None:
    long = [
        f"{path.relative_to(SOURCE)}: {lines} lines"
        for path in _sources(".py")
        if {SOURCE / "cli", SOURCE / "web"} & set(path.parents)
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FRONT_END_LINES
    ]
    assert not long, long


def _outside_the_tasks(pattern: re.Pattern[str]) -> list[str]:
    """Every line of lumos outside lumos/tasks/ that ``pattern`` finds, with its place."""
    return [
        f"{path.relative_to(SOURCE)}:{number}: {line.strip()}"
        for path in _sources(".py", ".js")
        if SOURCE / "tasks" not in path.parents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_only_the_tasks_ask_which_task_they_run() -> None:
    asking = _outside_the_tasks(TASK_TEST)
    assert not asking, asking


def test_only_the_tasks_hold_a_task_by_name_or_stand_in() -> None:
    """Outside lumos/tasks/ code holds a task and calls it: no task object by name and no
    property standing in for one (lumos/data/, below the tasks, asks a dataset's
    ``DatasetKind`` what its labels are)."""
    holding = _outside_the_tasks(TASK_STAND_IN)
    assert not holding, holding
