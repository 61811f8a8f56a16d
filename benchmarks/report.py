"""The benchmark report: one result set per device, each section stamped with the run that measured it.

``<out>/<stem>.json`` (stem: ``cpu`` or ``cuda`` by default) holds ``{"device": ..., "sections":
{name: {"stamp": ..., "settings": ..., "results": ...}}}``. A run replaces the sections it measured
(each written as soon as it finishes, so a stopped run keeps what it measured) and keeps the
others, so the file is always the current result of every section, never a log of runs.
``<stem>.md`` is rendered from the JSON alone on every write: the two cannot disagree.

A stamp says where a section's numbers come from: commit (``+ uncommitted changes`` when the
tree differed from it), date, hardware, torch, CUDA and cuDNN versions, Python, threads, the
command and a free-text note. What a machine cannot tell (no git in a copied tree, no
``nvidia-smi``) is written ``"not recorded"``, never guessed.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks._common import cpu_clock
from stablenets.atomic import write_text_atomic

REPO = Path(__file__).resolve().parent.parent
NOT_RECORDED = "not recorded"


def _run(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def git_commit() -> str:
    """The checked-out commit, with ``+ uncommitted changes`` when tracked files differ from it."""
    rev = _run(["git", "rev-parse", "--short", "HEAD"])
    if not rev:
        return NOT_RECORDED
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    return rev + (" + uncommitted changes" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or NOT_RECORDED


def _memory_gib() -> float | str:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):
        return NOT_RECORDED


def hardware(device: torch.device) -> dict:
    hw = {"cpu": _cpu_model(), "logical_cores": os.cpu_count() or NOT_RECORDED, "memory_gib": _memory_gib()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        driver = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]).splitlines()
        hw.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2 ** 30, 1),
                  gpu_count=torch.cuda.device_count(), driver=driver[0] if driver else NOT_RECORDED)
    return hw


def stamp(device: torch.device, *, command: str | None = None, commit: str | None = None,
          note: str | None = None) -> dict:
    """Where and how this run measures: written into every section it measures."""
    s = {"commit": commit or git_commit(), "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
         "device": device.type, "hardware": hardware(device), "torch": torch.__version__,
         "cuda": torch.version.cuda or "none (CPU-only torch build)",
         "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
         "python": platform.python_version(), "torch_threads": torch.get_num_threads(),
         "command": command or "python -m benchmarks " + shlex.join(sys.argv[1:])}
    if device.type != "cuda":
        s["clock"] = cpu_clock().__name__
    if note:
        s["note"] = note
    return s


def load(path: Path) -> dict:
    """The report at ``path`` (an empty one if there is none)."""
    if not path.exists():
        return {"sections": {}}
    rep = json.loads(path.read_text())
    if not isinstance(rep.get("sections"), dict):
        raise ValueError(f"{path}: not a benchmark report (no 'sections'); move it away or choose --stem")
    return rep


def _cores(hw: dict) -> str:
    n = hw.get("logical_cores", NOT_RECORDED)
    return f"{n} logical cores" if isinstance(n, int) else f"logical cores {n}"


def describe(st: dict) -> str:
    """One line for a stamp, as the Markdown report prints it."""
    hw = st.get("hardware", {})
    if st.get("device") == "cuda":
        where = (f"{hw.get('gpu', NOT_RECORDED)} (driver {hw.get('driver', NOT_RECORDED)}; host CPU "
                 f"{hw.get('cpu', NOT_RECORDED)}, {_cores(hw)})")
    else:
        mem = hw.get("memory_gib", NOT_RECORDED)
        where = (f"CPU {hw.get('cpu', NOT_RECORDED)}, {_cores(hw)}, "
                 f"{f'{mem} GiB' if isinstance(mem, (int, float)) else f'memory {mem}'}; "
                 f"{st.get('torch_threads', NOT_RECORDED)} torch thread(s), clock {st.get('clock', NOT_RECORDED)}")
    parts = [f"commit {st.get('commit', NOT_RECORDED)}", st.get("date", NOT_RECORDED), where,
             f"torch {st.get('torch', NOT_RECORDED)}", f"CUDA {st.get('cuda', NOT_RECORDED)}"]
    if st.get("device") == "cuda":
        parts.append(f"cuDNN {st.get('cudnn') or NOT_RECORDED}")
    parts.append(f"Python {st.get('python', NOT_RECORDED)}")
    line = "Measured: " + "; ".join(str(p) for p in parts) + f". Command: `{st.get('command', NOT_RECORDED)}`."
    if st.get("note"):
        line += f" Note: {st['note']}"
    return line


def render(report: dict, renderers: dict, titles: dict, order: list[str]) -> str:
    """The Markdown of a report: per section (in ``order``), its title, its stamp and its tables."""
    name = report.get("device", "?")
    md = [f"# Benchmark results: {name}",
          "Rendered from the JSON beside this file by `python -m benchmarks` (see `README.md` here for "
          "how each section measures). Each section is the latest run of that section; its stamp says "
          "which commit, machine and versions measured it. Ratios are to the plain ResNet timed in the "
          "same run (interleaved, medians)."]
    sections = report.get("sections", {})
    for key in [k for k in order if k in sections] + [k for k in sections if k not in order]:
        sec = sections[key]
        body = renderers[key](sec["results"]) if key in renderers else "```\n" + json.dumps(sec["results"]) + "\n```"
        md.append(f"## {titles.get(key, key)}\n\n{describe(sec['stamp'])}\n\n{body}")
    return "\n\n".join(md).rstrip() + "\n"


def write(out_dir: Path, stem: str, report: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` atomically; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    write_text_atomic(js, json.dumps(report, indent=1, default=str) + "\n")
    write_text_atomic(md, markdown)
    return js, md
