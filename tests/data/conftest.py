"""The peers the format tests read and write other tools' files with."""

from __future__ import annotations

from types import ModuleType

import pytest

from needs import peer_module


@pytest.fixture
def dm() -> ModuleType:
    """datumaro, which writes and reads the other tools' formats (tests/peers.py builds its
    datasets)."""
    return peer_module("datumaro")


@pytest.fixture
def globox() -> ModuleType:
    return peer_module("globox")
