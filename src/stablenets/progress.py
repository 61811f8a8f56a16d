"""Long work is never silent: a tqdm bar on a terminal, elsewhere a line at a fixed interval.

    bar = Progress(12, "robustness", unit="task")
    bar.note("pgd eps=0.031 batch 2/4")   # what runs now (a long unit shows progress inside it)
    bar.step("pgd eps=0.031")             # one unit done
    bar.close()

Off a terminal (logs, CI, pipes) a line goes to stderr when ``every`` seconds have passed since the
last one, and at the start and the end: the stage, done/total, the rate, the ETA and what runs now.
``every`` defaults to $STABLENETS_PROGRESS_EVERY, else 30 seconds.
"""
from __future__ import annotations

import os
import sys
import time

__all__ = ["Progress", "duration"]

DEFAULT_EVERY = 30.0


def duration(seconds: float) -> str:
    """"1h05m", "4m09s"."""
    seconds = int(round(max(seconds, 0.0)))
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def _every() -> float:
    try:
        return float(os.environ.get("STABLENETS_PROGRESS_EVERY", DEFAULT_EVERY))
    except ValueError:
        return DEFAULT_EVERY


class Progress:
    """A bar over ``total`` named units of work (or nothing when ``enabled`` is false)."""

    def __init__(self, total: int, desc: str, *, unit: str = "task", enabled: bool = True,
                 every: float | None = None, stream=None):
        self.total, self.desc, self.unit, self.enabled = int(total), desc, unit, enabled
        self.every = _every() if every is None else float(every)
        self.stream = stream or sys.stderr
        self.done, self.now = 0, ""
        self.t0 = self.last = time.perf_counter()
        self.bar = None
        if not enabled:
            return
        if self.stream.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=desc, unit=unit, file=self.stream)
        else:
            self._line(f"{self.total} {unit}s to do")

    def _line(self, text: str) -> None:
        print(f"{self.desc}: {text}", file=self.stream, flush=True)
        self.last = time.perf_counter()

    def _status(self) -> str:
        elapsed = time.perf_counter() - self.t0
        text = f"{self.done}/{self.total} {self.unit}s, {duration(elapsed)} so far"
        if self.done:
            rate = self.done / max(elapsed, 1e-9)
            text += f", {rate * 60:.3g} {self.unit}s/min, ETA {duration((self.total - self.done) / rate)}"
        return text + (f"; now: {self.now}" if self.now else "")

    def _maybe_line(self) -> None:
        if self.enabled and self.bar is None and time.perf_counter() - self.last >= self.every:
            self._line(self._status())

    def note(self, text: str) -> None:
        """What runs now (a batch, an attack's stage or iteration)."""
        self.now = text
        if self.bar is not None:
            self.bar.set_postfix_str(text[:70], refresh=True)
        self._maybe_line()

    def step(self, name: str = "") -> None:
        """One unit done."""
        self.done += 1
        self.now = name
        if self.bar is not None:
            self.bar.set_postfix_str(name[:70])
            self.bar.update(1)
        self._maybe_line()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.enabled:
            self.now = ""
            self._line(f"finished {self.done}/{self.total} {self.unit}s in {duration(time.perf_counter() - self.t0)}")
        self.enabled = False
