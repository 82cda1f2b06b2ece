"""The error a training run raises."""

from lumos.errors import LumosError


class TrainError(LumosError):
    """Training cannot start or cannot go on; the message says why."""
