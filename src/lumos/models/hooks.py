"""Module hooks that are safe on a network other threads run too (one cached for the
process, a model the server holds): a hook hears only the thread that registered it."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

Hook = TypeVar("Hook", bound=Callable[..., None])


def this_thread_only(hook: Hook) -> Hook:
    """``hook``, called only for forward passes run by the thread that wraps it."""
    owner = threading.get_ident()

    @functools.wraps(hook)
    def guarded(*args: object, **kwargs: object) -> None:
        if threading.get_ident() == owner:
            hook(*args, **kwargs)

    return guarded  # type: ignore[return-value]
