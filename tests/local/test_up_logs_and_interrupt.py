"""Each `local up` starts fresh logs (the last run's kept as .1); Ctrl-C exits 130."""

from __future__ import annotations

from typer.testing import CliRunner

from loadline.cli import app
from loadline.local import bringup
from loadline.local.env import rotate_logs


def test_each_up_starts_fresh_logs_and_keeps_the_last_runs(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "api.log").write_text("first run\n")
    (logs / "api.log.1").write_text("run before that\n")
    rotate_logs(logs)
    assert not (logs / "api.log").exists()
    assert (logs / "api.log.1").read_text() == "first run\n"
    rotate_logs(tmp_path / "new" / "logs")  # a first up: the directory is made
    assert (tmp_path / "new" / "logs").is_dir()


def test_ctrl_c_during_up_exits_130(tmp_path, monkeypatch):
    def interrupted(*_args, **_kw):
        raise KeyboardInterrupt
    monkeypatch.setattr(bringup, "bring_up", interrupted)
    result = CliRunner().invoke(app, ["local", "up", "--workdir", str(tmp_path / "wd")])
    assert result.exit_code == 130
    assert "interrupted" in result.output
