"""Injects each fault at its time while the load runs, and restores it after its window.

Runs in a thread of the gate process. Times count from the moment the Locust suite
starts its load (it writes that epoch time to a file the schedule waits for), so `@20s`
means 20 s into the load, whatever Locust's own start-up took.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from loadline.faults.spec import FaultSpec

START_WAIT_S = 120


class Applied(Protocol):
    target: str

    def restore(self) -> None: ...


class Injector(Protocol):
    def inject(self, spec: FaultSpec) -> Applied: ...


@dataclass
class Injection:
    """What happened to one fault: epoch times, what it hit, and any error."""

    spec: FaultSpec
    target: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None


class FaultSchedule(threading.Thread):
    def __init__(self, specs: list[FaultSpec], injector: Injector, start_file: Path):
        super().__init__(name="fault-schedule", daemon=True)
        self.specs = specs
        self.injector = injector
        self.start_file = start_file
        self.load_start: float | None = None
        self.injections: list[Injection] = []
        self._stopping = threading.Event()

    def _wait_start(self) -> float | None:
        deadline = time.monotonic() + START_WAIT_S
        while not self._stopping.is_set() and time.monotonic() < deadline:
            try:
                return float(self.start_file.read_text().strip())
            except (OSError, ValueError):
                self._stopping.wait(0.1)
        return None

    def run(self) -> None:
        self.load_start = self._wait_start()
        if self.load_start is None:
            return
        for spec in self.specs:
            if self._stopping.wait(max(0.0, self.load_start + spec.at_s - time.time())):
                return
            rec = Injection(spec=spec, started_at=time.time())
            self.injections.append(rec)
            try:
                applied = self.injector.inject(spec)
            except Exception as exc:  # noqa: BLE001 - reported in the verdict; nothing was applied
                rec.error = f"could not inject: {exc}"
                return
            rec.target = applied.target
            # Restored early when the load stops first: the environment never stays broken.
            self._stopping.wait(max(0.0, self.load_start + spec.end_s - time.time()))
            try:
                applied.restore()
            except Exception as exc:  # noqa: BLE001
                rec.error = f"could not restore {applied.target}: {exc}"
                return
            finally:
                rec.ended_at = time.time()

    def finish(self, timeout_s: float = 180) -> list[Injection]:
        """Stop waiting, restore whatever is still broken, return what happened."""
        self._stopping.set()
        self.join(timeout_s)
        return self.injections
