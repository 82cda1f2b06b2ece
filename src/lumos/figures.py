"""matplotlib's pyplot, loaded on first use on its file-only backend: a process that draws
no figure (a training worker, a quick CLI command) never pays the second it takes to load."""

from __future__ import annotations

from types import ModuleType


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` drawing to files (the Agg backend: no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
