"""The gate's PNG, read back as pixels: two panels, the p95 target line where the target is."""

import matplotlib.image
import numpy as np

from loadline.gate.decision import Targets
from loadline.gate.plot import plot_history
from tests.gate.test_verdict import build

HISTORY = [{"t": t, "users": 10, "rps": 100.0 + t, "p50_ms": 2, "p95_ms": 9 + t, "p99_ms": 20}
           for t in range(5)]


def _pixels(tmp_path, p95_target: float):
    verdict = build(Targets(p95_ms=p95_target, min_rps=10.0, max_error_ratio=0.01))
    path = plot_history(HISTORY, tmp_path / f"latency-{p95_target:g}.png", verdict)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path)


def _rows(img, rgb, tol=0.06):
    mask = np.all(np.abs(img[..., :3] - np.array(rgb)) < tol, axis=-1)
    return np.where(mask.any(axis=1))[0]


def test_plot_has_latency_above_and_throughput_below(tmp_path):
    img = _pixels(tmp_path, 25)
    assert img.shape[:2] == (700, 1000)  # 10x7 inches at 100 dpi
    target_rows = _rows(img, (1, 0, 0))            # the red dashed p95 target
    green_rows = _rows(img, (0.173, 0.627, 0.173))  # tab:green: p99 above, requests/s below
    p95_rows = _rows(img, (1.0, 0.498, 0.055))     # tab:orange, the second latency line
    assert len(target_rows) and len(green_rows) and len(p95_rows)
    middle = img.shape[0] / 2
    assert target_rows.max() < middle and p95_rows.max() < middle
    assert (green_rows > middle).any() and (green_rows < middle).any()


def test_the_target_line_sits_at_the_target(tmp_path):
    # Same data, a higher target: the line moves up (to a smaller row).
    low, high = _pixels(tmp_path, 12), _pixels(tmp_path, 30)
    assert _rows(high, (1, 0, 0)).mean() < _rows(low, (1, 0, 0)).mean() - 20
