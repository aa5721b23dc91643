"""Alerts reach the gate: a real Alertmanager, configured as `loadline local up` configures it,
delivers to the gate's receiver; the report lists what fired during the run."""

import json
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from loadline.gate.alerts import AlertReceiver, ReceiverError, alerts_report
from loadline.local import alertmanager as am
from loadline.profile import load_profile
from loadline.services import free_port

T0 = 1_700_000_000.0


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def note(status, name, starts, fp=None, severity="page"):
    return {"status": status, "labels": {"alertname": name, "severity": severity},
            "startsAt": _iso(starts), "fingerprint": fp or name}


def test_report_keeps_first_firing_and_latest_status():
    notes = [(T0 + 40, {"alerts": [note("firing", "LoadlineRedisDown", T0 + 35)]}),
             (T0 + 41, {"alerts": [note("firing", "LoadlineApiThroughputBelowTarget", T0 - 600, severity="ticket")]}),
             (T0 + 90, {"alerts": [note("resolved", "LoadlineRedisDown", T0 + 35)]}),
             (T0 + 91, {"alerts": [note("resolved", "Unseen", T0 + 10)]})]
    r = alerts_report(notes, receiver="http://127.0.0.1:1/alerts", load_start=T0)
    assert [(a.alertname, a.status, a.starts_s, a.received_s) for a in r.fired] == [
        ("LoadlineRedisDown", "resolved", 35, 40)]
    assert [a.alertname for a in r.already_firing] == ["LoadlineApiThroughputBelowTarget"]
    assert alerts_report([], receiver="x", load_start=T0).fired == []


def test_receiver_is_loopback_only():
    with pytest.raises(ReceiverError, match="loopback only"):
        AlertReceiver("http://192.0.2.1:9/alerts")
    with pytest.raises(ReceiverError, match="loopback only"):
        AlertReceiver("http://127.0.0.1/alerts")


@pytest.fixture
def alertmanager_with_receiver():
    exe = am.binary()
    if exe is None:
        pytest.fail("prometheus-alertmanager is not installed (make setup installs it)")
    wd = Path(tempfile.mkdtemp(prefix="loadline-test-am-", dir="/tmp"))
    webhook = f"http://127.0.0.1:{free_port()}/alerts"
    config = am.write_config(load_profile("local"), wd, webhook_url=webhook)
    listen = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(am.command(exe, config, wd / "data", listen), stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://{listen}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        with AlertReceiver(webhook) as receiver:
            yield f"http://{listen}", receiver
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        shutil.rmtree(wd, ignore_errors=True)


def test_alert_posted_to_alertmanager_reaches_the_gate(alertmanager_with_receiver):
    url, receiver = alertmanager_with_receiver
    start = time.time()
    alert = {"labels": {"alertname": "LoadlineRedisDown", "severity": "page", "namespace": "loadline-local"},
             "startsAt": _iso(start + 1), "endsAt": _iso(start + 600)}
    assert requests.post(f"{url}/api/v2/alerts", json=[alert], timeout=5).status_code == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not receiver.notifications:
        time.sleep(0.2)
    r = alerts_report(receiver.notifications, receiver=receiver.url, load_start=start)
    assert [(a.alertname, a.severity, a.status) for a in r.fired] == [("LoadlineRedisDown", "page", "firing")]
    assert json.loads(json.dumps(r.model_dump(mode="json")))["fired"][0]["labels"]["namespace"] == "loadline-local"


def test_rendered_configs_pass_amtool(tmp_path):
    for stack in ("local", "staging", "prod"):
        am.check(am.write_config(load_profile(stack), tmp_path / stack, webhook_url="http://127.0.0.1:9/a"))
    bad = tmp_path / "bad.yml"
    bad.write_text("route: {receiver: nowhere}\nreceivers: [{name: default}]\n")
    with pytest.raises(am.AlertmanagerConfigError, match="amtool rejected"):
        am.check(bad)


def test_summary_and_markdown_name_each_alert():
    from loadline.gate.decision import Decision, Targets
    from loadline.gate.markdown import verdict_markdown
    from loadline.gate.summary import alerts_line
    from loadline.gate.verdict import Verdict
    from tests.gate.test_verdict import STATS

    notes = [(T0 + 40, {"alerts": [note("firing", "LoadlineRedisDown", T0 + 35)]})]
    alerts = alerts_report(notes, receiver="http://127.0.0.1:1/alerts", load_start=T0)
    v = Verdict.build(stack="s", host="h", targets=Targets(100, 1, 0.1), stats=STATS,
                      decision=Decision(True, []), alerts=alerts)
    assert alerts_line(v) == "alerts fired during the run: LoadlineRedisDown (page) at 35 s"
    assert "alerts fired during the run: LoadlineRedisDown (page) at 35 s." in verdict_markdown(v)
    per_node = [(T0 + 40, {"alerts": [note("firing", "LoadlineRedisDown", T0 + 35, fp="a"),
                                      note("firing", "LoadlineRedisDown", T0 + 50, fp="b")]}),
                (T0 + 90, {"alerts": [note("resolved", "LoadlineRedisDown", T0 + 35, fp="a"),
                                      note("resolved", "LoadlineRedisDown", T0 + 50, fp="b")]})]
    grouped = v.model_copy(update={"alerts": alerts_report(per_node, receiver="x", load_start=T0)})
    assert alerts_line(grouped) == "alerts fired during the run: LoadlineRedisDown (page) x2 at 35 s, resolved"
    quiet = v.model_copy(update={"alerts": alerts_report([], receiver="x", load_start=T0)})
    assert alerts_line(quiet) == "alerts fired during the run: none"
