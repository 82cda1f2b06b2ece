"""The peer the deploy tests speak to lumos's servers with."""

from __future__ import annotations

from types import ModuleType

import pytest

from needs import peer_module


@pytest.fixture
def httpclient() -> ModuleType:
    """tritonclient's HTTP client (``tritonclient.http``), the one a Triton user has."""
    return peer_module("tritonclient.http")
