import socket

from loadline.envs.gate import api_url, gate_command, output_api_key, run_gate


def test_api_url_lookup():
    assert api_url({"apiUrl": "http://a", "url": "http://b"}) == "http://a"
    assert api_url({"url": "http://b"}) == "http://b"
    assert api_url({"grafanaUrl": "http://g"}, "grafanaUrl") == "http://g"
    assert api_url({"apiUrl": ""}) is None
    assert api_url({}) is None


def test_api_key_output():
    assert output_api_key({"apiKey": "k"}) == "k"
    assert output_api_key({"apiKey": ""}) is None
    assert output_api_key(None) is None


def test_gate_command_is_the_loadtest_contract(tmp_path):
    cmd = gate_command("pr-1", "http://127.0.0.1:8080", tmp_path)
    assert cmd[0].endswith("loadline")
    assert cmd[1:] == ["loadtest", "--stack", "pr-1", "--host", "http://127.0.0.1:8080",
                       "--report", str(tmp_path)]
    assert gate_command("pr-1", "http://x", tmp_path, allow_remote=True)[-1] == "--allow-remote"


def test_unreachable_service_is_an_error_verdict(tmp_path):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, verdict = run_gate("dev", f"http://127.0.0.1:{port}", tmp_path / "report",
                             api_key="test-key")
    assert (code, verdict) == (2, "error")
