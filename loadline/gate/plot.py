"""The gate's PNG: latency percentiles and throughput over the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

from loadline.gate.verdict import Verdict

matplotlib.use("Agg")  # no display on CI runners or here
import matplotlib.pyplot as plt  # noqa: E402


def plot_history(history: list[dict[str, Any]], path: Path, verdict: Verdict) -> Path:
    """`history`: samples {"t", "users", "rps", "p50_ms", "p95_ms", "p99_ms"} in run order."""
    p95_target_ms = verdict.targets.p95_ms
    title = f"{verdict.stack} @ {verdict.host}"
    t = [s["t"] for s in history]
    fig, (lat, thr) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        lat.plot(t, [s[key] for s in history], label=label)
    lat.axhline(p95_target_ms, color="red", linestyle="--", label=f"p95 target {p95_target_ms:g} ms")
    lat.set_ylabel("latency (ms, 10 s window)")
    lat.grid(alpha=0.3)
    thr.plot(t, [s["rps"] for s in history], color="tab:green", label="requests/s")
    thr.set_ylabel("requests/s")
    thr.set_xlabel("seconds since start")
    users = thr.twinx()
    users.plot(t, [s["users"] for s in history], color="tab:gray", linestyle=":", label="users")
    users.set_ylabel("users")
    users.set_ylim(bottom=0)
    thr.set_ylim(bottom=0)
    if verdict.fault is not None:
        for f in verdict.fault.injected:
            for ax in (lat, thr):
                ax.axvspan(f.started_s, f.ended_s, color="tab:red", alpha=0.15,
                           label=f"fault: {f.spec}" if ax is lat else None)
    lat.legend(loc="upper left")
    thr.legend(loc="upper left")
    users.legend(loc="upper right")
    thr.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
