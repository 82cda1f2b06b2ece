"""The one way lumos predicts: inputs preprocessed as in training, run through the task's
graph on a backend, and each input's share of the outputs read as the task's answer.

preprocess (the bundle's own size, resize mode, channels; :mod:`lumos.tasks.inputs`) →
backend (a :data:`~lumos.tasks.base.GraphRun`: by default the task's export graph in
PyTorch, or an exported graph on ONNX Runtime, :mod:`lumos.deploy.runtime`) →
:meth:`Task.split_outputs <lumos.tasks.base.Task.split_outputs>` →
:meth:`Task.graph_answer <lumos.tasks.base.Task.graph_answer>`. PyTorch runs the very module
that is exported, so eager and exported answers agree by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lumos.errors import DataError, ExportError
from lumos.tasks.base import ExportGraph, GraphRun, Result, Seen, TrainedModel
from lumos.tasks.inputs import expand, network_input, seen, source_name

Input = str | Path | np.ndarray


def export_graph(bundle: TrainedModel, model: torch.nn.Module) -> ExportGraph:
    """The graph that predicts with ``model``, ``bundle``'s network (the task says which);
    an ExportError names the bundle and network where the task has none for it."""
    try:
        return bundle.task.export_graph(model, bundle.preprocessing.input_size)
    except ExportError as e:
        raise ExportError(f"{bundle.origin}: {bundle.spec.name} {e}") from None


def torch_run(module: torch.nn.Module, device: str | torch.device = "cpu") -> GraphRun:
    """A PyTorch module as a :data:`GraphRun`: float outputs as float32 arrays."""

    def run(batch: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            found = module(torch.from_numpy(batch).to(device))
        found = found if isinstance(found, (tuple, list)) else [found]
        return [(o.float() if o.is_floating_point() else o).cpu().numpy() for o in found]

    return run


class Predictor:
    """A bundle's graph on a backend: images in, the task's answers out.

    ``run`` is the backend, called ``backend`` where it is reported; by default the task's
    graph runs in PyTorch on ``device``.
    """

    def __init__(
        self,
        bundle: TrainedModel,
        run: GraphRun | None = None,
        *,
        backend: str = "torch",
        device: str = "cpu",
        trust_code: bool = False,
    ) -> None:
        if isinstance(run, str):
            raise TypeError(
                f"Predictor(bundle, {run!r}): name a backend with "
                "lumos.deploy.runtime.load_predictor(bundle, backend) (changed in 0.2)"
            )
        self.bundle, self.backend = bundle, backend
        if run is None:
            graph = export_graph(bundle, bundle.model(device, trust_code=trust_code)).module
            run = torch_run(graph.eval(), device)
        self._run = run

    def outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs for a float32 (N, C, H, W) batch in 0-1 at the input size."""
        return self._run(batch)

    def shares(self, images: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        """Each preprocessed (H, W, C) uint8 image's share of one batch's outputs."""
        outputs = self.outputs(network_input(images, self.bundle).numpy())
        return self.bundle.task.split_outputs(outputs, len(images))

    def answer(self, share: list[np.ndarray], image: Seen, top: int = 5) -> Result:
        """The task's answer for one input from its share of the outputs."""
        return self.bundle.task.graph_answer(self.bundle, share, image, top)

    def answers(self, images: Sequence[Seen], top: int = 5) -> list[Result]:
        """The task's answers for inputs already preprocessed, run as one batch."""
        if not images:
            return []
        shares = self.shares([image.pixels for image in images])
        return [self.answer(s, image, top) for s, image in zip(shares, images, strict=True)]

    def predict(
        self, inputs: Sequence[Input], *, top: int = 5, batch_size: int = 64
    ) -> list[Result]:
        """One result per image file, image in a folder, or array, in order, predicted in
        batches of ``batch_size``: a classifier's top classes, a detector's boxes, a
        segmenter's mask. An unreadable file's result carries its error; a folder without
        images raises a ``DataError``."""
        items = expand(inputs)
        results: list[Result] = []
        for start in range(0, len(items), batch_size):
            read = [self._read(item) for item in items[start : start + batch_size]]
            answered = iter(self.answers([r for r in read if isinstance(r, Seen)], top))
            results.extend(next(answered) if isinstance(r, Seen) else r for r in read)
        return results

    def _read(self, item: Path | np.ndarray) -> Seen | Result:
        """The input preprocessed, or the result that says why it cannot be read."""
        try:
            return seen(item, self.bundle)
        except DataError as e:
            return self.bundle.task.failed(self.bundle, source_name(item), e.reason)
