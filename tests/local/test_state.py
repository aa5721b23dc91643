import os

import pytest

from loadline.local import state


def test_explicit_and_env_workdir_win(tmp_path, monkeypatch):
    monkeypatch.setenv("LOADLINE_LOCAL_DIR", str(tmp_path / "env"))
    assert state.workdir() == tmp_path / "env"
    assert state.workdir(tmp_path / "given") == tmp_path / "given"


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback only applies when PostgreSQL runs as another user")
def test_private_checkout_moves_default_under_tmp(tmp_path, monkeypatch):
    monkeypatch.delenv("LOADLINE_LOCAL_DIR", raising=False)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(state, "DEFAULT_WORKDIR", private / "repo" / ".loadline" / "local")
    wd = state.workdir()
    assert wd.parent == state.Path("/tmp") and wd.name.startswith("loadline-local-")
    assert state.workdir() == wd  # up, status and down agree


def test_api_key_file_is_private(tmp_path):
    state.write_api_key(tmp_path, "secret")
    assert state.read_api_key(tmp_path) == "secret"
    assert (tmp_path / state.API_KEY_FILE).stat().st_mode & 0o077 == 0
