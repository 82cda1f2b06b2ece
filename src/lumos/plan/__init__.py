"""Planning a run before it starts: the memory it needs, traced from the real network."""

from lumos.plan.memory import MemoryPlan, estimate, largest_batch

__all__ = ["MemoryPlan", "estimate", "largest_batch"]
