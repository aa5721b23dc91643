"""`loadline loadtest` exits 2, with a clear error and no traceback, when it cannot run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadline.services import free_port

LOADLINE = str(Path(sys.executable).parent / "loadline")


def run(*args, tmp_path):
    return subprocess.run([LOADLINE, "loadtest", *args, "--report", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "LOADLINE_LOCAL_DIR": str(tmp_path / "none")})


def run_in_process(*args, tmp_path, monkeypatch):
    """The same command in this process (a second per case saved), in as bare an environment."""
    from typer.testing import CliRunner

    from loadline.cli import app

    for name in list(os.environ):
        if name.startswith(("LOADLINE_", "KUBE")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LOADLINE_LOCAL_DIR", str(tmp_path / "none"))
    return CliRunner().invoke(app, ["loadtest", *args, "--report", str(tmp_path / "r")])


def test_a_command_that_cannot_run_exits_2_without_a_traceback(tmp_path):
    res = run("--stack", "local", "--rps", "0", "--host", "http://127.0.0.1:1", tmp_path=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "--rps: must be > 0" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--stack", "nope", "--host", "http://127.0.0.1:8000"], "no stack file Pulumi.nope.yaml"),
    (["--stack", "local", "--host", f"http://127.0.0.1:{free_port()}", "--api-key", "k"], "is unreachable"),
    (["--stack", "local", "--host", "http://192.0.2.10:8000", "--api-key", "k"], "not a loopback address"),
    (["--stack", "local", "--host", "ftp://127.0.0.1", "--api-key", "k"], "not an http(s) URL"),
    (["--stack", "local", "--duration", "soon", "--host", "http://127.0.0.1:1"], "--duration: 'soon'"),
    (["--stack", "local", "--max-error-ratio", "2", "--host", "http://127.0.0.1:1"], "--max-error-ratio"),
    (["--stack", "local"], "no local environment is up"),
    (["--stack", "local", "--host", "http://127.0.0.1:1", "--api-key", "k", "--fault", "redis-primry-kill@5s"],
     "--fault 'redis-primry-kill@5s': unknown fault 'redis-primry-kill'"),
    (["--stack", "local", "--host", "http://127.0.0.1:1", "--api-key", "k", "--fault", "redis-stall@5s:x"],
     "FOR 'x' is not a duration"),
    (["--stack", "local", "--host", "http://127.0.0.1:1", "--api-key", "k", "--duration", "10s",
      "--fault", "redis-stall@9s:3s"], "ends at 12s but the load lasts 10s"),
    (["--stack", "local", "--host", "http://127.0.0.1:1", "--api-key", "k", "--fault", "redis-stall@5s"],
     "only injected in the local environment"),
    (["--stack", "local", "--host", "http://127.0.0.1:1", "--api-key", "k", "--duration", "5s"],
     "--duration: 5 s leaves nothing to judge after the profile's 5 s warm-up"),
    (["--stack", "local", "--host", "http://127.0.0.1:1", "--api-key", "k", "--fault", "redis-all-kill@5s"],
     "no usable kubeconfig"),
    (["--stack", "local", "--rps", "0", "--host", "http://127.0.0.1:1"], "--rps: must be > 0"),
    (["--stack", "local", "--rps", "10", "--users", "5", "--host", "http://127.0.0.1:1"], "give one or the other"),
    (["--stack", "local", "--workers", "-1", "--host", "http://127.0.0.1:1"], "--workers: must be >= 0"),
    (["--stack", "local", "--rps", "50000", "--workers", "1", "--host", "http://127.0.0.1:1", "--api-key", "k"],
     "load: 10000 users need at least 10 load generator processes"),
    (["--stack", "local", "--users", "2", "--host", "http://127.0.0.1:1", "--api-key", "k"], "load: too few users"),
    (["--stack", "local", "--baseline", "/nonexistent/b.json", "--host", "http://127.0.0.1:1", "--api-key", "k"],
     "--baseline: /nonexistent/b.json is not a file"),
])
def test_cannot_run_exits_2(args, message, tmp_path, monkeypatch):
    res = run_in_process(*args, tmp_path=tmp_path, monkeypatch=monkeypatch)
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    # Refused with a message, not by an exception escaping the command.
    assert isinstance(res.exception, SystemExit), res.exception
    assert not (tmp_path / "r" / "verdict.json").exists()


def test_invalid_profile_exits_2(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from loadline import profile
    from loadline.cli import app

    stacks = tmp_path / "stacks"
    stacks.mkdir()
    text = (profile.STACKS_DIR / "Pulumi.local.yaml").read_text().replace("p95Ms: 50", "p95Ms: -1")
    (stacks / "Pulumi.local.yaml").write_text(text)
    monkeypatch.setattr(profile, "STACKS_DIR", stacks)
    monkeypatch.setattr(profile.load_profile, "__defaults__", (stacks,))
    res = CliRunner().invoke(app, ["loadtest", "--stack", "local", "--host", "http://127.0.0.1:1"])
    assert res.exit_code == 2
    assert "slo.p95Ms" in res.output


def test_demo_refuses_a_bad_fault_before_starting_anything(tmp_path):
    wd = tmp_path / "local"
    res = subprocess.run([LOADLINE, "demo", "--fault", "redis-primary-kill@soon"], capture_output=True,
                         text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "LOADLINE_LOCAL_DIR": str(wd)})
    assert res.returncode == 2, res.stdout + res.stderr
    assert "--fault 'redis-primary-kill@soon': AT 'soon' is not a duration" in res.stderr
    assert "Traceback" not in res.stderr
    assert not wd.exists()
