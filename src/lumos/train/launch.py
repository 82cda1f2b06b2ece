"""Starting a training run on several processes, and machines, with torchrun.

``torchrun`` (``torch.distributed.run``) starts ``--nproc`` processes of
:mod:`lumos.train.process` on this machine; with ``--nnodes M`` the machines meet at a
rendezvous (``HOST:PORT``, torch's c10d rendezvous) and wait for each other up to a timeout.
Each process takes an equal share of the cores (``OMP_NUM_THREADS``) and, on CUDA, one GPU
(NCCL); on CPUs they talk over gloo. This process only waits, passes their output through
and, when they end badly, says why in one line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch

from lumos.threads import cores
from lumos.train.errors import TrainError

RENDEZVOUS_TIMEOUT = 300.0  # seconds the machines wait for each other
TAIL = 400  # lines of the processes' error output kept to explain a failure
# Where a traceback (a process's, "[rank0]: ..."; torchrun's) or torchrun's error log starts.
FAILURE_REPORT = re.compile(r"(\[rank\d+\]:\s*)?Traceback \(most recent call last\)|E\d{4} ")


@dataclass(frozen=True)
class Processes:
    """How many processes, on how many machines; this machine's place among them."""

    per_node: int = 1
    nodes: int = 1
    node_rank: int = 0
    rendezvous: str | None = None  # HOST:PORT, with nodes > 1
    timeout: float = RENDEZVOUS_TIMEOUT

    @property
    def leads(self) -> bool:
        """Whether this machine keeps the job (machine 0)."""
        return self.node_rank == 0


def check(processes: Processes, device: str | None) -> None:
    """Refuse what cannot start: more processes than cores (or GPUs), a machine rank out of
    range, several machines without a rendezvous address."""
    cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    have, what = (torch.cuda.device_count(), "GPUs") if cuda else (cores(), "cores")
    if processes.per_node > have:
        raise TrainError(f"--nproc {processes.per_node} is more than this machine's {have} {what}")
    if not 0 <= processes.node_rank < processes.nodes:
        raise TrainError(
            f"--node-rank {processes.node_rank} is not one of 0..{processes.nodes - 1}"
        )
    if processes.nodes > 1 and not re.fullmatch(r"[\w.\-]+:\d{1,5}", processes.rendezvous or ""):
        raise TrainError("--nnodes above 1 needs --rdzv HOST:PORT, the same on every machine")


def launch(
    processes: Processes,
    job_id: str | None,
    workspace: Path,
    device: str | None = None,
    *,
    progress: bool = False,
    report: Path | None = None,
) -> None:
    """Run the processes (leading job ``job_id``, or joining a run another machine leads)
    to their end; :class:`TrainError` naming the reason if they did not end well (their
    last output written to ``report``)."""
    check(processes, device)
    command = [sys.executable, "-m", "torch.distributed.run", *_torchrun_options(processes),
               "-m", "lumos.train.process", "--workspace", str(workspace)]  # fmt: skip
    command += ["--job", job_id] if job_id else []
    command += ["--device", device] if device else []
    command += ["--progress"] if progress else []
    env = os.environ | {
        "OMP_NUM_THREADS": os.environ.get(
            "OMP_NUM_THREADS", str(max(1, cores() // processes.per_node))
        ),
        "PYTHONUNBUFFERED": "1",
    }
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE) as torchrun:
        tail = _pass_through(torchrun)
    if torchrun.returncode:
        if report is not None:
            report.write_text("\n".join(tail) + "\n", encoding="utf-8")
        raise TrainError(_reason(torchrun.returncode, tail, processes))


def _torchrun_options(p: Processes) -> list[str]:
    options = ["--nproc-per-node", str(p.per_node), "--nnodes", str(p.nodes), "--max-restarts", "0"]
    if p.nodes == 1:
        return [*options, "--standalone"]
    return [*options, "--node-rank", str(p.node_rank), "--rdzv-backend", "c10d",
            "--rdzv-endpoint", str(p.rendezvous), "--rdzv-id", f"lumos-{p.rendezvous}",
            "--rdzv-conf", f"join_timeout={p.timeout:g}"]  # fmt: skip


def _pass_through(process: subprocess.Popen) -> deque[str]:
    """Copy the processes' error output (progress bars included) to ours as it comes, up
    to the first traceback or torchrun error report, and keep its last lines."""
    assert process.stderr is not None
    tail: deque[str] = deque(maxlen=TAIL)
    pending, forwarding = "", True
    while chunk := os.read(process.stderr.fileno(), 4096):
        text = pending + chunk.decode(errors="replace")
        *lines, pending = re.split(r"(?<=[\r\n])", text)
        for line in lines:
            forwarding = forwarding and not FAILURE_REPORT.match(line)
            if forwarding:
                sys.stderr.write(line)
        sys.stderr.flush()
        tail.extend(line.rstrip("\r\n") for line in lines)
    process.wait()
    return tail


def _reason(code: int, tail: deque[str], p: Processes) -> str:
    """One line for how the processes ended: the rendezvous timed out, the first process to
    fail was killed by a signal, a process said why, or the exit code."""
    text = "\n".join(tail)
    if "RendezvousTimeoutError" in text:
        return (f"the rendezvous at {p.rendezvous} did not complete in {p.timeout:g} s: "
                f"fewer than {p.nodes} machines joined")  # fmt: skip
    first = text.rpartition("Root Cause")[2]  # torchrun's report: the first process to fail
    rank = re.search(r"rank\s*:\s*(\d+)", first)
    who = f"training process {rank.group(1)}" if rank else "a training process"
    signal = re.search(r"Signal (\d+) \((\w+)\) received by PID", first)
    if signal:
        return f"{who} was killed by signal {signal.group(1)} ({signal.group(2)})"
    said = re.findall(r"^(?:lumos: )?error: (.+)$", text, flags=re.MULTILINE)
    if said:
        return said[-1]
    exit_code = re.search(r"exitcode\s*:\s*(-?\d+)", first)
    if exit_code:
        return f"{who} ended with exit code {exit_code.group(1)}"
    return f"the training processes ended with exit code {code}"
