"""Planning a run before it starts: the memory it needs, traced from the real network."""

from lumos.plan.memory import (
    MemoryPlan,
    PlanError,
    Planner,
    estimate,
    workload,
    workload_named,
)
from lumos.plan.step import Workload

__all__ = [
    "MemoryPlan",
    "PlanError",
    "Planner",
    "Workload",
    "estimate",
    "workload",
    "workload_named",
]
