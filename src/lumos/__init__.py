"""lumos: a visual recognition workbench."""

__version__ = "0.1.0"
