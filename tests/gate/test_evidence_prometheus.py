"""The server's evidence read from a real Prometheus, holding a run written into its TSDB.

The run is backfilled with `promtool tsdb create-blocks-from openmetrics` before Prometheus
starts: every figure below is known in advance, and no scrape has to happen while the test
waits. Samples are 5 s apart and the window is whole multiples of that, so `increase()`
needs no extrapolation and each expected figure is plain arithmetic.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from loadline.gate import evidence
from loadline.gate.evidence import EvidenceError, Prometheus, ServerTargets, Window, collect, gather
from loadline.services import free_port

STEP = 5  # seconds between samples, and the scrape interval the gate is told
SPAN = 300  # seconds of history written before the last sample
WINDOW = 60  # the run: the last 60 s up to the last scrape
JOB = "api"

# Per-second increments of the histogram, cumulative per bucket: (le, count).
SLOW_GET = [("0.01", 50), ("0.05", 90), ("0.1", 100), ("+Inf", 100)]
FAST_ERRORS = [("0.01", 10), ("0.05", 10), ("0.1", 10), ("+Inf", 10)]
FAST_POST = [("0.01", 40), ("0.05", 40), ("0.1", 40), ("+Inf", 40)]
PROBES = [("0.01", 0), ("0.05", 0), ("0.1", 0), ("+Inf", 1000)]
PEAK = 8.7654  # connections in use at the busiest scrape, of 10
ODD = [("0.01", 1), ("0.05", 7), ("0.1", 7), ("+Inf", 7)]

TARGETS = ServerTargets(p95_ms=50, p99_ms=90, max_error_ratio=0.01, cache_hit_ratio=0.8)


def _openmetrics(end: int) -> str:
    times = range(end - SPAN, end + 1, STEP)
    lines: list[str] = []

    def series(name: str, labels: dict[str, str], value_at) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.extend(f"{name}{{{text}}} {value_at(t)} {t}" for t in times)

    lines.append("# TYPE up gauge")
    series("up", {"job": JOB}, lambda t: 1)
    series("up", {"job": "other"}, lambda t: 1)
    series("up", {"job": "idle"}, lambda t: 1)
    series("up", {"job": "odd"}, lambda t: 1)
    series("up", {"job": "tiered"}, lambda t: 1)
    lines.append("# TYPE http_request_duration_seconds histogram")
    histograms = [
        ({"method": "GET", "route": "/v1/events/{event_id}", "status": "200"}, SLOW_GET, JOB),
        ({"method": "GET", "route": "/v1/events/{event_id}", "status": "503"}, FAST_ERRORS, JOB),
        ({"method": "POST", "route": "/v1/events", "status": "201"}, FAST_POST, JOB),
        # Not counted: a route that saw no request in the window, probes, and another job.
        ({"method": "DELETE", "route": "/v1/events/{event_id}", "status": "204"}, [], JOB),
        ({"method": "GET", "route": "/healthz", "status": "200"}, PROBES, JOB),
        ({"method": "GET", "route": "/v1/events", "status": "500"}, PROBES, "other"),
        # A series without a method label, with quantiles that need their second decimal.
        ({"route": "/v1/odd", "status": "200"}, ODD, "odd"),
    ]
    for labels, per_second, job in histograms:
        for le, n in per_second:
            series("http_request_duration_seconds_bucket", {"job": job, **labels, "le": le},
                   lambda t, n=n: n * (t - end + SPAN))
        # A route without traffic in the window still has a (constant) count.
        total, idle = (per_second[-1][1], 0) if per_second else (0, 7)
        series("http_request_duration_seconds_count", {"job": job, **labels},
               lambda t, total=total, idle=idle: total * (t - end + SPAN) + idle)
    lines.append("# TYPE cache_requests_total counter")
    for result, rate in (("hit", 30), ("miss", 10), ("error", 5)):
        series("cache_requests_total", {"job": JOB, "result": result}, lambda t, r=rate: r * (t - end + SPAN))
    # Job "tiered": a service that labels the tier. A request looks in L2 only after an L1 miss.
    for tier, result, rate in (("l1", "hit", 30), ("l1", "miss", 10), ("l2", "hit", 6), ("l2", "miss", 4)):
        series("cache_requests_total", {"job": "tiered", "result": result, "tier": tier},
               lambda t, r=rate: r * (t - end + SPAN))
    lines.append("# TYPE db_pool_connections_in_use gauge")
    series("db_pool_connections_in_use", {"job": JOB}, lambda t: PEAK if t == end - 30 else 2)
    lines.append("# TYPE db_pool_connections_max gauge")
    series("db_pool_connections_max", {"job": JOB}, lambda t: 10)
    lines.append("# TYPE ALERTS gauge")
    for name, severity, state, since in (("LoadlineRedisDown", "page", "firing", end - 20),
                                         ("LoadlineApiSlow", "ticket", "firing", end - 40),
                                         ("LoadlinePending", "page", "pending", end - 40),
                                         ("LoadlineLongAgo", "page", "firing", end - SPAN)):
        labels = {"alertname": name, "alertstate": state, "severity": severity}
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        last = since + 10 if name == "LoadlineLongAgo" else end
        lines.extend(f"ALERTS{{{text}}} 1 {t}" for t in range(since, last + 1, STEP))
    # Job "fine": scraped every second, off the whole second, 10 requests a second on one route.
    fine = [t + 0.456 for t in range(end - 10, end + 1)]
    lines.extend(f'up{{job="fine"}} 1 {t:.4f}' for t in fine)
    for labels, rate in (('method="GET",route="/v1/fine",status="200"', 10.37),
                         ('method="GET",route="/v1/fine",status="500"', 0.123),
                         ('method="GET",route="/v1/one",status="200"', 1)):
        lines.extend(f'http_request_duration_seconds_count{{job="fine",{labels}}} {rate * i:.4f} {t:.4f}'
                     for i, t in enumerate(fine))
    for result, rate in (("hit", 2.25), ("miss", 1)):
        lines.extend(f'cache_requests_total{{job="fine",result="{result}"}} {rate * i:.4f} {t:.4f}'
                     for i, t in enumerate(fine))
    # The pool's peak in one sample on an even second: a 2 s evaluation step would never see it.
    peak = end - 4 if (end - 4) % 2 == 0 else end - 3
    lines.extend(f'db_pool_connections_in_use{{job="fine"}} {9 if round(t) == peak else 1} {t:.4f}' for t in fine)
    lines.extend(f'db_pool_connections_max{{job="fine"}} 10 {t:.4f}' for t in fine)
    # Only misses in job "odd"; alerts that lack a label.
    lines.extend(f'cache_requests_total{{job="odd",result="miss"}} {3 * (t - end + SPAN)} {t}' for t in times)
    for labels in ('alertname="LoadlineNoSeverity",alertstate="firing"', 'alertstate="firing",severity="page"'):
        lines.extend(f"ALERTS{{{labels}}} 1 {t}" for t in range(end - 20, end + 1, STEP))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _start_prometheus(root: Path, detached: bool = False) -> tuple[int, str, int]:
    """A Prometheus holding the run, under `root`: (pid, url, epoch second of the last sample).

    `detached`: a child of init, not of this process. mutmut reaps any child of its own process
    (where its first test runs happen) as a mutant's, and fails on one it did not start.
    """
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.fail("prometheus and promtool are needed (make setup installs them)")
    root.mkdir(parents=True, exist_ok=True)
    end = int(time.time()) // STEP * STEP - STEP  # in the past: nothing is later than "now"
    (root / "run.om").write_text(_openmetrics(end))
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(root / "run.om"),
                    str(root / "data")], check=True, capture_output=True)
    (root / "prometheus.yml").write_text("global: {}\n")
    port = free_port()
    argv = ["prometheus", f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]
    log = root / "prometheus.log"
    if detached:
        # The shell starts it in the background and exits at once: init adopts it.
        shell = subprocess.run(["sh", "-c", 'setsid "$@" >"$0" 2>&1 </dev/null & echo $!', str(log), *argv],
                               check=True, capture_output=True, text=True)
        pid = int(shell.stdout)
    else:
        with log.open("w") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _CHILDREN[proc.pid] = proc
        pid = proc.pid
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not _ready(url):
        if not _alive(pid) or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"prometheus did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return pid, url, end


_CHILDREN: dict[int, subprocess.Popen] = {}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
    except requests.RequestException:
        return False


# `make mutation` runs these tests once per mutant of evidence.py, each run in a new process.
# The Prometheus they read answers every mutant alike, so scripts/mutation.py names a directory
# here: the first run starts one Prometheus in it and later runs reuse it while its run is at
# most SHARED_FOR_S old (queries at "now" see 5 minutes back). A newer one then takes over;
# the one before it is stopped (no test still reads it by then), the last ones by the script.
SHARED_ENV = "LOADLINE_TEST_PROMETHEUS_DIR"
SHARED_FOR_S = 120


def _shared_prometheus(directory: Path) -> tuple[str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = json.loads((directory / "started.json").read_text()) if (directory / "started.json").exists() else []
        if started and time.time() - started[-1]["end"] <= SHARED_FOR_S and _ready(started[-1]["url"]):
            return started[-1]["url"], started[-1]["end"]
        pid, url, end = _start_prometheus(directory / str(len(started)), detached=True)
        for old in started[:-1]:
            stop_shared_prometheus(old)
        started.append({"url": url, "end": end, "pid": pid, "root": str(directory / str(len(started)))})
        (directory / "started.json").write_text(json.dumps(started))
        return url, end


def stop_shared_prometheus(entry: dict) -> None:
    """Stop one shared Prometheus, if that pid is still it (a pid is reused once its process is gone)."""
    try:
        cmdline = Path(f"/proc/{entry['pid']}/cmdline").read_bytes()
    except OSError:
        return
    if entry["root"].encode() in cmdline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(entry["pid"], signal.SIGTERM)


@pytest.fixture(scope="module")
def prom(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """(url, epoch second of the last sample) of a Prometheus holding the run."""
    if os.environ.get(SHARED_ENV):
        yield _shared_prometheus(Path(os.environ[SHARED_ENV]))
        return
    pid, url, end = _start_prometheus(tmp_path_factory.mktemp("prometheus"))
    try:
        yield url, end
    finally:
        proc = _CHILDREN.pop(pid)
        proc.terminate()
        proc.wait(timeout=30)


def test_the_window_is_read_as_the_server_recorded_it(prom):
    url, end = prom
    ev = collect(Prometheus(url), JOB, Window(end - WINDOW, end - 2), STEP)
    # The window runs to the first scrape after the run's end: the last sample.
    assert ev.window == Window(end - WINDOW, end)
    # 150 requests a second on /v1/ routes over 60 s; probes and the other job left out.
    assert ev.requests == 150 * WINDOW
    assert ev.error_5xx_ratio == round(10 / 150, 6)
    # Overall: 100 under 10 ms, 140 under 50 ms, 150 under 100 ms of every 150. p95 is rank
    # 142.5, 2.5 into the 10 between 50 and 100 ms: 62.5 ms; p99 (rank 148.5): 92.5 ms.
    assert (ev.p95_ms, ev.p99_ms) == (62.5, 92.5)
    assert ev.routes == {
        # 60 under 10 ms, 100 under 50, 110 under 100 of 110: p95 rank 104.5, p99 rank 108.9.
        "GET /v1/events/{event_id}": evidence.RouteEvidence(requests=110 * WINDOW, http_5xx=10 * WINDOW,
                                                            p95_ms=72.5, p99_ms=94.5),
        # All 40 under 10 ms: p95 rank 38 of 40 is 9.5 ms, p99 9.9 ms.
        "POST /v1/events": evidence.RouteEvidence(requests=40 * WINDOW, http_5xx=0.0, p95_ms=9.5, p99_ms=9.9),
    }
    assert (ev.cache_lookups, ev.cache_hit_ratio) == (40 * WINDOW, 0.75)  # errors are not lookups
    # 2 of 10 connections in use, once 8: the peak and the mean over the window's 5 s steps.
    assert ev.pool_saturation_max == pytest.approx(PEAK / 10)
    assert ev.pool_saturation_mean == pytest.approx((0.2 * 12 + PEAK / 10) / 13)
    assert ev.alerts_fired == [{"alertname": "", "severity": "page"},  # a label left out is empty
                               {"alertname": "LoadlineApiSlow", "severity": "ticket"},
                               {"alertname": "LoadlineNoSeverity", "severity": ""},
                               {"alertname": "LoadlineRedisDown", "severity": "page"}]


def test_a_window_that_ended_earlier_is_read_as_of_its_own_next_scrape(prom):
    url, end = prom
    # Ended 65 s before the last sample (a fault run's steady part): the later minute of
    # requests and the alerts that fired in the last 20 s are not the window's.
    ev = collect(Prometheus(url), JOB, Window(end - 120, end - 65), STEP)
    assert ev.window == Window(end - 120, end - 60)
    assert ev.requests == 150 * 60
    assert "LoadlineNoSeverity" not in [a["alertname"] for a in ev.alerts_fired]


def test_gather_puts_the_evidence_and_its_failures_in_the_verdict(prom):
    url, end = prom
    result = gather(url, JOB, Window(end - WINDOW + 0.25, end - 2), STEP, TARGETS)
    assert result.available and result.prometheus_url == url and result.reason is None
    assert (result.window_start, result.window_end) == (end - WINDOW + 0.25, end)
    assert (result.requests, result.p95_ms, result.p99_ms) == (150 * WINDOW, 62.5, 92.5)
    assert (result.error_5xx_ratio, result.cache_hit_ratio, result.cache_hit_ratio_target) == (0.066667, 0.75, 0.8)
    assert result.cache_lookups == 40 * WINDOW
    assert (result.pool_saturation_max, result.pool_saturation_mean) == (
        round(PEAK / 10, 4), round((0.2 * 12 + PEAK / 10) / 13, 4))
    assert result.per_route["POST /v1/events"].model_dump() == {"requests": 2400.0, "http_5xx": 0.0,
                                                                "p95_ms": 9.5, "p99_ms": 9.9}
    assert [a.model_dump()["alertname"] for a in result.alerts_fired] == [
        "", "LoadlineApiSlow", "LoadlineNoSeverity", "LoadlineRedisDown"]
    assert result.failures == [
        "server overall: p95 62.5 ms exceeds target 50 ms",
        "server overall: p99 92.5 ms exceeds target 90 ms",
        "server GET /v1/events/{event_id}: p95 72.5 ms exceeds target 50 ms",
        "server GET /v1/events/{event_id}: p99 94.5 ms exceeds target 90 ms",
        "server overall: 5xx ratio 0.0667 exceeds target 0.01",
        "server overall: cache hit ratio 0.750 is below target 0.8",
        "server: alert  (severity page) fired during the run",
        "server: alert LoadlineRedisDown (severity page) fired during the run",
    ]


def test_a_job_nobody_scrapes_has_no_evidence(prom, monkeypatch):
    url, end = prom
    monkeypatch.setattr(evidence, "SCRAPE_GRACE_S", 0.0)
    with pytest.raises(EvidenceError) as err:
        Prometheus(url + "/").wait_for_scrape("nobody", end - 10, 0.1)
    assert str(err.value) == (f"Prometheus at {url} has no scrape of job nobody after the run ended "
                              f"(never, run ended at {end - 10})")
    result = gather(url, "nobody", Window(end - WINDOW, end), 0.1, TARGETS)
    assert not result.available and result.reason.startswith(f"Prometheus at {url} has no scrape of job nobody")


def test_a_run_that_ended_after_the_last_scrape_waits_then_says_when_it_saw_one(prom, monkeypatch):
    url, end = prom
    monkeypatch.setattr(evidence, "SCRAPE_GRACE_S", 0.0)
    started = time.monotonic()
    with pytest.raises(EvidenceError, match=rf"job api after the run ended \(last at {end}, run ended at {end + 1}\)"):
        Prometheus(url).wait_for_scrape(JOB, end + 1, 0.5)
    assert time.monotonic() - started >= 1.0  # it waited two scrape intervals before giving up
    assert Prometheus(url).wait_for_scrape(JOB, end, 0.5) == end  # a scrape at the run's end counts


def test_an_instant_query_is_asked_at_the_given_time(prom):
    url, end = prom
    p = Prometheus(url)
    assert p.scalar(f'max(timestamp(up{{job="{JOB}"}}))', end - 100.4) == end - 105
    assert p.scalar(f'max(timestamp(up{{job="{JOB}"}}))', end - SPAN - 400) is None  # before the run: no series
    assert p.query('up{job="nobody"}', end) == []
    assert p.query(f'up{{job="{JOB}"}}', end) == [{"metric": {"__name__": "up", "job": JOB}, "value": [end, "1"]}]


@pytest.mark.parametrize("expr", ["0/0", "1/0", "-1/0"])
def test_a_value_that_is_not_a_number_is_no_value(prom, expr):
    url, end = prom
    assert Prometheus(url).scalar(f"vector({expr})", end) is None
    assert Prometheus(url).scalar("vector(0.5)", end) == 0.5


def test_prometheus_refusing_or_not_answering_json_is_named(prom):
    url, end = prom
    with pytest.raises(EvidenceError) as err:
        Prometheus(url).query("sum(", end)
    assert str(err.value).startswith(f"Prometheus at {url} refused `sum(`: ") and "parse error" in str(err.value)
    with pytest.raises(EvidenceError) as err:
        Prometheus(url + "/nothing-here").query("up", end)
    assert str(err.value) == f"Prometheus at {url}/nothing-here answered 404 with no JSON"


def test_an_unreachable_prometheus_is_named_with_the_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EvidenceError, match=rf"^Prometheus at {url} is unreachable \(ConnectionError: "):
        Prometheus(url, timeout_s=5).query("up", 0)


def test_a_window_is_at_least_a_second():
    assert Window(10.0, 10.2).seconds == 1
    assert Window(10.0, 12.5).seconds == 3
    assert Window(10.0, 9.0).seconds == 1


def test_a_job_without_traffic_has_no_figures_and_a_label_left_out_is_empty(prom):
    url, end = prom
    idle = collect(Prometheus(url), "idle", Window(end - WINDOW, end), STEP)
    assert (idle.requests, idle.p95_ms, idle.p99_ms, idle.error_5xx_ratio, idle.routes) == (0.0, None, None, None, {})
    assert (idle.cache_hit_ratio, idle.cache_lookups, idle.pool_saturation_max) == (None, 0.0, None)
    odd = collect(Prometheus(url), "odd", Window(end - WINDOW, end), STEP)
    # 1 of 7 under 10 ms, all 7 under 50 ms: p95 (rank 6.65) is 10 + 5.65/6 x 40 ms = 47.67 ms.
    assert (odd.requests, odd.error_5xx_ratio, odd.p95_ms, odd.p99_ms) == (7 * WINDOW, 0.0, 47.67, 49.53)
    assert (odd.cache_lookups, odd.cache_hit_ratio) == (3 * WINDOW, 0.0)  # misses only
    assert odd.routes == {" /v1/odd": evidence.RouteEvidence(requests=7 * WINDOW, http_5xx=0.0, p95_ms=47.67,
                                                             p99_ms=49.53)}


def test_a_window_shorter_than_a_second_is_read_over_one_second(prom):
    url, end = prom
    at = end + 0.456  # the last scrape of job "fine" (Prometheus keeps milliseconds)
    window = Window(at - 0.49955, at - 0.1)
    ev = collect(Prometheus(url), "fine", window, 0.5)
    assert ev.window.end == pytest.approx(at)
    # The two samples of the last second, not three of two seconds: 10.37 + 0.123 + 1 requests.
    assert ev.requests == 11.5 and set(ev.routes) == {"GET /v1/fine", "GET /v1/one"}
    assert ev.routes["GET /v1/fine"] == evidence.RouteEvidence(requests=10.5, http_5xx=0.1, p95_ms=None, p99_ms=None)
    assert ev.routes["GET /v1/one"].requests == 1
    assert (ev.cache_lookups, ev.cache_hit_ratio) == (3.2, 0.6923)  # 2.25 hits of 3.25 lookups
    result = gather(url, "fine", window, 0.5, TARGETS)
    assert (result.window_start, result.window_end) == (round(window.start, 3), round(at, 3))
    assert result.window_start != round(window.start, 4) and result.window_end != round(at)


def test_a_tiered_cache_counts_every_tiers_hits_over_the_l1_lookups(prom):
    url, end = prom
    ev = collect(Prometheus(url), "tiered", Window(end - WINDOW, end), STEP)
    # 30 L1 hits and 6 L2 hits of 40 lookups a second (the 10 L1 misses looked in L2).
    assert (ev.cache_lookups, ev.cache_hit_ratio) == (40 * WINDOW, 0.9)


def test_gather_asks_prometheus_through_the_session_it_is_given(prom):
    url, end = prom
    session = requests.Session()
    asked: list[str] = []
    session.hooks["response"].append(lambda resp, *args, **kwargs: asked.append(resp.url))
    result = gather(url, JOB, Window(end - WINDOW, end), STEP, TARGETS, session=session)
    assert result.available and asked and all(a.startswith(f"{url}/api/v1/query") for a in asked)


def test_gather_without_figures_leaves_them_unknown(prom):
    url, end = prom
    result = gather(url, "idle", Window(end - WINDOW, end), STEP, TARGETS)
    assert result.available and (result.pool_saturation_max, result.pool_saturation_mean) == (None, None)
    assert result.failures == ["server: Prometheus recorded no request in the run's window (is it scraping the API?)"]


def test_pool_saturation_is_sampled_at_every_scrape_interval(prom):
    url, end = prom
    at = end + 0.456
    ev = collect(Prometheus(url), "fine", Window(at - 8, at - 0.1), 0.5)
    assert ev.pool_saturation_max == 0.9  # the one even-second peak, seen at a 1 s step


class FakeTime:
    """The gate's clock, moved only by its own sleeps: how long it waits, without waiting."""

    def __init__(self, now: float):
        self.now, self.sleeps = now, []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_wait_for_a_scrape_lasts_two_intervals_and_the_grace_polling_every_half_interval(prom, monkeypatch):
    url, end = prom
    clock = FakeTime(end + 1.0)
    monkeypatch.setattr(evidence, "time", clock)
    with pytest.raises(EvidenceError, match=rf"\(last at {end}, run ended at {end + 1}\)"):
        Prometheus(url).wait_for_scrape(JOB, end + 1, 0.5)
    # Deadline: 2 x 0.5 s + 10 s of grace after it started; polls 0.25 s apart until past it.
    assert clock.sleeps == [0.25] * 45
    clock = FakeTime(end + 1.0)
    monkeypatch.setattr(evidence, "time", clock)
    with pytest.raises(EvidenceError):
        Prometheus(url).wait_for_scrape(JOB, end + 1, 4.0)
    assert clock.sleeps == [1.0] * 19  # at most a second between polls: 8 s + 10 s of grace


def test_only_trailing_slashes_are_dropped_from_the_url():
    assert Prometheus("http://127.0.0.1:9090/prometheus/").url == "http://127.0.0.1:9090/prometheus"
    assert Prometheus("http://127.0.0.1:9090/promX").url == "http://127.0.0.1:9090/promX"


def test_a_prometheus_that_never_answers_is_given_up_on_after_the_timeout():
    import socket

    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen()  # accepts the connection, never answers
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        with pytest.raises(EvidenceError, match=rf"^Prometheus at {url} is unreachable \(ReadTimeout: "):
            Prometheus(url, timeout_s=0.2).query("up", 0)
