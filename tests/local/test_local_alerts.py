"""The local environment's real Prometheus and Alertmanager: a 10 s Redis outage pages while it
lasts, its resolution follows, and a quiet environment sends nothing. Received the way the gate
receives them (its webhook receiver and `alerts_report`)."""

from __future__ import annotations

import time

import pytest

from loadline.faults.local import LocalInjector
from loadline.faults.spec import parse_fault
from loadline.gate.alerts import AlertReceiver, alerts_report

pytestmark = pytest.mark.slow

OUTAGE_S = 10  # the Done-when fault: redis-all-kill@60s:10s
# Longer than what a down dependency needs to page locally (1 s scrape, 5 s `for:`, 1 s
# evaluation, 1 s group_wait): anything down would have been heard of.
QUIET_S = 15
NOTICE_DEADLINE_S = 60


def _wait(receiver: AlertReceiver, start: float, done) -> list:
    deadline = time.monotonic() + NOTICE_DEADLINE_S
    while time.monotonic() < deadline:
        report = alerts_report(list(receiver.notifications), receiver=receiver.url, load_start=start)
        if done(report):
            return report
        time.sleep(0.5)
    return alerts_report(list(receiver.notifications), receiver=receiver.url, load_start=start)


def test_quiet_environment_sends_nothing_and_a_redis_outage_pages_while_it_lasts(local_env_for_faults):
    # A clean environment (no earlier fault's 5xx left in Prometheus), whose Redis comes back.
    state, wd = local_env_for_faults
    with AlertReceiver(state["components"]["alertmanager"]["webhook_url"]) as receiver:
        start = time.time()
        time.sleep(QUIET_S)
        quiet = alerts_report(list(receiver.notifications), receiver=receiver.url, load_start=start)
        assert quiet.fired == [], quiet

        applied = LocalInjector(wd, state).inject(parse_fault(f"redis-all-kill@0s:{OUTAGE_S}s"))
        killed = time.time()
        time.sleep(OUTAGE_S)
        applied.restore()
        restored = time.time()

        report = _wait(receiver, start, lambda r: any(a.alertname == "LoadlineRedisDown" and a.status == "resolved"
                                                      for a in r.fired))
    down = [a for a in report.fired if a.alertname == "LoadlineRedisDown"]
    assert len(down) == 1, report
    # Prometheus' startsAt is the moment `for:` elapsed: inside the outage, not after it.
    assert killed - start < down[0].starts_s < restored - start, (killed - start, restored - start, down[0])
    assert down[0].severity == "page" and down[0].status == "resolved"
    assert {a.alertname for a in report.fired} == {"LoadlineRedisDown"}
