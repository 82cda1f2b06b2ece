"""Hyper-parameter sweeps: Optuna studies whose trials are lumos training jobs."""

from lumos.sweep.space import Param, SweepError, parse_param
from lumos.sweep.study import Sweep, create_sweep, open_sweep, work_on

__all__ = ["Param", "Sweep", "SweepError", "create_sweep", "open_sweep", "parse_param", "work_on"]
