from loadline.gate.plot import plot_history
from tests.gate.test_verdict import build


def test_plot_writes_a_png(tmp_path):
    history = [{"t": t, "users": 10, "rps": 100.0 + t, "p50_ms": 2, "p95_ms": 9, "p99_ms": 20} for t in range(5)]
    path = plot_history(history, tmp_path / "latency.png", build())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
