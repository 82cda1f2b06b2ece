"""Dynamic batching: requests that arrive together run as one batch (Triton's idea).

A worker thread per model takes the first waiting image, then whatever else arrives within
``max_delay_ms`` up to ``max_batch`` images, runs them through the model's graph at once,
and hands each image its share of the outputs. The queue is bounded: beyond it a request is
refused at once (:class:`QueueFullError`) instead of waiting without end. Stopping answers
everything already queued first.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lumos.deploy.runtime import Predictor

Observe = Callable[[int, int], None]  # (batch size, images still queued) after each batch


class QueueFullError(Exception):
    """More images are waiting than the server accepts."""


class Batcher:
    """A worker thread that runs queued images through ``predictor`` in batches."""

    def __init__(
        self,
        predictor: Predictor,
        max_batch: int,
        max_delay_ms: float,
        max_queue: int,
        observe: Observe = lambda size, waiting: None,
    ) -> None:
        self.predictor = predictor
        self.max_batch, self.max_delay = max_batch, max_delay_ms / 1000
        self.observe = observe
        self._queue: queue.Queue[Any] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._run, name="lumos-batcher", daemon=True)
        self.running = False
        self.pending = 0  # images submitted and not yet answered

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self.running = True
        self._thread.start()

    def stop(self) -> None:
        """Answer everything queued, then end the worker."""
        if not self.running:
            return
        self.running = False
        self._queue.put(None)
        self._thread.join()

    async def submit(self, images: list[np.ndarray]) -> list[list[np.ndarray]]:
        """Each preprocessed image's share of the graph's outputs, batched with whatever
        else waits."""
        loop = asyncio.get_running_loop()
        futures = []
        for image in images:
            future = loop.create_future()
            try:
                self._queue.put_nowait((image, future, loop))
            except queue.Full:
                for waiting in futures:
                    waiting.cancel()
                raise QueueFullError from None
            futures.append(future)
        self.pending += len(futures)
        try:
            return list(await asyncio.gather(*futures))
        finally:
            self.pending -= len(futures)

    def _collect(self) -> tuple[list[Any], bool]:
        """The next batch, and whether the stop sentinel was reached."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch, deadline = [first], time.monotonic() + self.max_delay
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._collect()
            if not batch:
                continue
            self.observe(len(batch), self._queue.qsize())
            try:
                shares: list[Any] = self.run([image for image, _, _ in batch])
            except Exception as e:  # answer every waiting request with the failure
                shares = [e] * len(batch)
            for (_, future, loop), share in zip(batch, shares, strict=True):
                loop.call_soon_threadsafe(_settle, future, share)

    def run(self, images: list[np.ndarray]) -> list[list[np.ndarray]]:
        """Each image's share of one batch's outputs."""
        return self.predictor.shares(images)


def _settle(future: asyncio.Future, share: Any) -> None:
    if future.done():  # the client went away
        return
    if isinstance(share, Exception):
        future.set_exception(share)
    else:
        future.set_result(share)
