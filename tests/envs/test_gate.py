import socket

from loadline.envs.gate import api_url, output_api_key, run_gate


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


def test_unreachable_service_is_an_error_verdict(tmp_path, capsys):
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = run_gate("dev", f"http://127.0.0.1:{port}", tmp_path / "report", api_key="test-key")
    assert (outcome.code, outcome.name, outcome.verdict) == (2, "error", None)
    assert "is unreachable" in capsys.readouterr().err
