"""What tests need from outside lumos (the peers), and the step that installs each.

A test that finds a peer missing is skipped, naming that step. Where ``LUMOS_REQUIRE_PEERS=1``
(``.ci/run`` sets it) the conftest turns every skip into a failure instead: there a missing
peer is a set-up that broke, and a green run must have run everything. Only a capability the
machine withholds from the tests (:func:`withheld`, such as mounting a file system) stays a
skip, listed in the summary.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

REQUIRE_PEERS = "LUMOS_REQUIRE_PEERS"

INSTALLED_BY = {
    "chromium": "`make browser` installs Debian's chromium package (as root)",
    "postgresql": "`make postgres` installs Debian's postgresql package (as root)",
    "triton": "`make triton` installs nvidia-pytriton's Triton server in .venv-triton",
    "package": "`make test` installs the test extra (pip install -e '.[test]')",
}


class Withheld(pytest.skip.Exception):
    """This machine withholds a capability from the tests (not an install that failed)."""


def peers_required() -> bool:
    return os.environ.get(REQUIRE_PEERS, "").strip() not in ("", "0")


def missing(peer: str, what: str) -> NoReturn:
    """Skip (fail where peers are required) saying ``what`` is missing and what installs it."""
    pytest.skip(f"{what}: {INSTALLED_BY[peer]}")


def withheld(reason: str) -> NoReturn:
    """Skip for a capability the machine does not give the tests; a skip even in CI."""
    raise Withheld(reason)


def peer_module(name: str) -> ModuleType:
    """Python module ``name`` of a peer package (a test dependency), or :func:`missing`."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing("package", f"{name} cannot be imported ({e})")
