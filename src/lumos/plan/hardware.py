"""The accelerator catalogue: memory, throughput, power and price of the GPUs a plan is
made for, from the YAML shipped with lumos and the workspace's own ``gpus.yaml``; and the
memory this machine has free."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lumos.errors import LumosError

Precision = Literal["fp32", "fp16", "bf16", "int8"]
CATALOGUE = "gpus.yaml"


class CatalogueError(LumosError):
    """A device the catalogue does not hold, or a catalogue file that cannot be read."""


class Throughput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fp32: float = Field(gt=0)
    fp16: float | None = Field(None, gt=0)
    bf16: float | None = Field(None, gt=0)
    int8: float | None = Field(None, gt=0)


class Device(BaseModel):
    """One accelerator as the catalogue describes it."""

    model_config = ConfigDict(extra="forbid")

    key: str = ""
    name: str
    memory_gb: float = Field(gt=0)
    tflops: Throughput
    tf32: float | None = Field(None, gt=0)
    watts: float = Field(gt=0)
    usd_per_hour: float | None = Field(None, ge=0)
    source: str
    price_source: str | None = None

    def throughput(self, precision: str) -> tuple[float, str]:
        """Peak FLOP/s training at ``precision`` reaches, and the arithmetic it runs in
        (fp16/bf16 without tensor cores: fp32; fp32 on Ampere and later: TF32)."""
        fast = getattr(self.tflops, precision, None) if precision != "fp32" else None
        if fast:
            return fast * 1e12, precision
        if self.tf32:
            return self.tf32 * 1e12, "tf32"
        return self.tflops.fp32 * 1e12, "fp32"

    def automatic(self) -> str:
        """What ``precision: auto`` trains in on this device (CUDA autocast: bf16 where the
        device has it, else fp16; fp32 where neither is faster)."""
        return next((p for p in ("bf16", "fp16") if getattr(self.tflops, p)), "fp32")

    @property
    def memory(self) -> int:
        return int(self.memory_gb * 1e9)


def catalogue(workspace_root: Path | None = None) -> dict[str, Device]:
    """Every device: the shipped catalogue, then ``workspace_root/gpus.yaml`` by key."""
    devices = _read(files("lumos.plan").joinpath(CATALOGUE).read_text(encoding="utf-8"), CATALOGUE)
    mine = workspace_root / CATALOGUE if workspace_root else None
    if mine is not None and mine.is_file():
        try:
            text = mine.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CatalogueError(f"{mine}: cannot read: {e}") from None
        devices |= _read(text, str(mine))
    return devices


def device(name: str, workspace_root: Path | None = None) -> Device:
    """The catalogue's device ``name`` (its key, any case)."""
    devices = catalogue(workspace_root)
    found = devices.get(name.strip().lower())
    if found is None:
        raise CatalogueError(f"unknown GPU {name!r}: the catalogue has {', '.join(devices)}")
    return found


def _read(text: str, where: str) -> dict[str, Device]:
    try:
        entries = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise CatalogueError(f"{where}: not YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(entries, dict):
        raise CatalogueError(f"{where}: expected devices by key, found {type(entries).__name__}")
    devices = {}
    for key, entry in entries.items():
        try:
            devices[str(key).lower()] = Device.model_validate({**(entry or {}), "key": str(key)})
        except (ValidationError, TypeError) as e:
            reason = e.errors()[0] if isinstance(e, ValidationError) else {"msg": str(e)}
            field = ".".join(map(str, reason.get("loc", ()))) or "entry"
            raise CatalogueError(f"{where}: device {key!r}: {field}: {reason['msg']}") from None
    return devices


def free_memory() -> int:
    """Bytes of memory this machine can still give a process (Linux's MemAvailable, else
    the free pages)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
