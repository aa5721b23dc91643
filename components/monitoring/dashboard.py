"""The Grafana dashboard for one environment, built with grafana-foundation-sdk (pure; no Pulumi).

The SDK's typed builders produce the dashboard model Grafana itself defines, so a field
Grafana renamed or a panel option of the wrong type fails here, at build time, instead
of in a Grafana that silently ignores it. Every query reads a series the service, an
exporter or one of our recording rules produces; `loadline render` checks that
(`loadline/render/dashboards.py`) and docs/monitoring.md lists the panels.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import common as gcommon
from grafana_foundation_sdk.builders import dashboard as gdash
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as gcm
from grafana_foundation_sdk.models import dashboard as gm

from components.monitoring.config import API_JOB, HPA_NAME, POSTGRES_JOB, REDIS_JOB
from components.monitoring.slo_burn import BURN_WINDOWS, SLO_PERIOD, num, slis
from loadline.profile import Profile

DATASOURCE_UID = "loadline-prometheus"
_DATASOURCE = gm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
_API = f'job="{API_JOB}"'
_REQ = f"http_request_duration_seconds_count{{{_API}}}"
_BUCKET = f"http_request_duration_seconds_bucket{{{_API}}}"
# Severity colours, shared by thresholds and value mappings.
_OK, _WARN, _BAD = "green", "orange", "red"


def _targets(queries: list[tuple[str, str]], *,
             instant: bool = False) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    out: list[cogbuilder.Builder[cogvariants.Dataquery]] = []
    for i, (expr, legend) in enumerate(queries):
        query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + i)).datasource(_DATASOURCE)
        out.append(query.instant() if instant else query.range())
    return out


def _thresholds(base: str, steps: list[tuple[float, str]]) -> gdash.ThresholdsConfig:
    return gdash.ThresholdsConfig().mode(gm.ThresholdsMode.ABSOLUTE).steps(
        [gm.Threshold(value=None, color=base)] + [gm.Threshold(value=v, color=c) for v, c in steps])


def _legend() -> gcommon.VizLegendOptions:
    return (gcommon.VizLegendOptions().display_mode(gcm.LegendDisplayMode.LIST)
            .placement(gcm.LegendPlacement.BOTTOM).show_legend(True))


def _timeseries(title: str, description: str, queries: list[tuple[str, str]], *, unit: str,
                lines: list[tuple[float, str]] | None = None) -> timeseries.Panel:
    """A time series; `lines` (value, colour) are drawn as threshold lines, e.g. an SLO target."""
    panel = (timeseries.Panel().title(title).description(description).datasource(_DATASOURCE)
             .targets(_targets(queries)).unit(unit).height(8).span(12).legend(_legend())
             .tooltip(gcommon.VizTooltipOptions().mode(gcm.TooltipDisplayMode.MULTI).sort(gcm.SortOrder.DESCENDING)))
    if lines:
        # Grafana reads threshold steps in ascending order.
        panel = (panel.thresholds(_thresholds("transparent", sorted(lines)))
                 .thresholds_style(gcommon.GraphThresholdsStyleConfig().mode(gcm.GraphTresholdsStyleMode.DASHED)))
    return panel


def _service_level(profile: Profile) -> list[Any]:
    budget = (stat.Panel().title(f"Error budget left ({SLO_PERIOD})")
              .description("Share of each SLO's error budget not yet spent over the last "
                           f"{SLO_PERIOD}: 100% untouched, 0% spent, below 0 overspent.")
              .datasource(_DATASOURCE)
              .targets(_targets([("loadline:slo_error_budget:remaining_ratio", "{{slo}}")], instant=True))
              .unit("percentunit").decimals(1).thresholds(_thresholds(_BAD, [(0, _WARN), (0.25, _OK)]))
              .color_mode(gcm.BigValueColorMode.BACKGROUND)
              .reduce_options(gcommon.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
              .height(8).span(8))
    panels: list[Any] = [budget]
    for sli in slis(profile):
        panels.append(_timeseries(
            f"Burn rate: {sli.title}",
            f"The {sli.what} over each alert's long window, divided by the error budget "
            f"({num(sli.budget)}). The dashed lines are where the pages (14.4, 6) and tickets (3, 1) fire.",
            [(f"{sli.record}:ratio_rate{w.long} / {num(sli.budget)}", f"{w.long} ({w.severity} at {num(w.factor)})")
             for w in BURN_WINDOWS],
            unit="none", lines=[(w.factor, _BAD if w.severity == "page" else _WARN) for w in BURN_WINDOWS],
        ).span(8))
    return panels


def _traffic(profile: Profile) -> list[Any]:
    slo = profile.slo
    return [
        _timeseries("Request rate by route", "Answers per second; the dashed line is slo.minRps.", [
            (f"sum by (route) (rate({_REQ}[1m]))", "{{route}}"),
            (f"sum(rate({_REQ}[1m]))", "total"),
        ], unit="reqps", lines=[(slo.min_rps, "blue")]),
        _timeseries("Latency p50 / p95 / p99", "From the request histogram; the dashed line is slo.p95Ms.", [
            (f"histogram_quantile({q}, sum by (le) (rate({_BUCKET}[5m])))", f"p{int(q * 100)}")
            for q in (0.5, 0.95, 0.99)
        ], unit="s", lines=[(slo.p95_ms / 1000, _BAD)]),
        _timeseries("5xx error ratio", "Share of 5xx answers over 5m; the dashed line is slo.maxErrorRatio.", [
            (f'sum(rate(http_request_duration_seconds_count{{{_API},status=~"5.."}}[5m])) / sum(rate({_REQ}[5m]))',
             "5xx ratio"),
        ], unit="percentunit", lines=[(slo.max_error_ratio, _BAD)]),
    ]


def _cache_and_redis() -> list[Any]:
    # `by (tier)` keeps one series per cache tier (l1, l2); from a service without the
    # tier label it is a single series, so the panel works with either.
    hits = f'sum by (tier) (rate(cache_requests_total{{{_API},result="hit"}}[5m]))'
    lookups = f"sum by (tier) (rate(cache_requests_total{{{_API}}}[5m]))"
    overall = (f'sum(rate(cache_requests_total{{{_API},result="hit"}}[5m])) '
               f'/ sum(rate(cache_requests_total{{{_API},tier="l1"}}[5m]))')
    breaker = (statetimeline.Panel().title("Redis circuit breaker")
               .description("Worst breaker state per API pod: closed (Redis in use), half-open "
                            "(probing), open (Redis skipped, requests served without it).")
               .datasource(_DATASOURCE)
               .targets(_targets([(f"max by (instance) (redis_breaker_state{{{_API}}})", "{{instance}}")]))
               .mappings([gm.ValueMap(options={
                   "0": gm.ValueMappingResult(text="closed", color=_OK, index=0),
                   "1": gm.ValueMappingResult(text="half-open", color=_WARN, index=1),
                   "2": gm.ValueMappingResult(text="open", color=_BAD, index=2),
               })])
               .thresholds(_thresholds(_OK, [(1, _WARN), (2, _BAD)]))
               .show_value(gcm.VisibilityMode.AUTO).merge_values(True).legend(_legend())
               .height(8).span(12))
    return [
        _timeseries("Cache hit ratio by tier",
                    "Hits over lookups per cache tier (L2 is asked only on an L1 miss), and overall: "
                    "every hit over the L1 lookups, which is what slo.cacheHitRatio promises; over 5m.",
                    [(f"{hits} / {lookups}", "hit ratio {{tier}}"), (overall, "overall")], unit="percentunit"),
        breaker,
        _timeseries("Breaker trips and degraded requests", "Breaker openings and requests served "
                    "without a failed dependency or let through the rate limit unchecked, over 5m.", [
                        (f"sum(increase(redis_breaker_trips_total{{{_API}}}[5m]))", "breaker trips"),
                        (f"sum by (dependency) (rate(degraded_requests_total{{{_API}}}[5m]))", "degraded/s: {{dependency}}"),
                        (f"sum(rate(rate_limit_fail_open_total{{{_API}}}[5m]))", "rate limit fail-open/s"),
                        (f"sum(rate(rate_limited_requests_total{{{_API}}}[5m]))", "rate limited/s"),
                    ], unit="short"),
    ]


def _capacity(profile: Profile) -> list[Any]:
    hpa = f'horizontalpodautoscaler="{HPA_NAME}",namespace="{profile.namespace}"'
    return [
        _timeseries("Database pool use", "Connections checked out over the pool size, all API pods.", [
            (f"sum(db_pool_connections_in_use{{{_API}}}) / sum(db_pool_connections_max{{{_API}}})", "in use / max"),
        ], unit="percentunit", lines=[(0.9, _BAD)]),
        _timeseries("API replicas", "From kube-state-metrics: what the HPA runs, wants and may run.", [
            (f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}", "current"),
            (f"kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}}", "desired"),
            (f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}", "max"),
        ], unit="short"),
        _timeseries("Dependencies up", "1 when every exporter reports its server up.", [
            (f'min(redis_up{{job="{REDIS_JOB}"}})', "redis"),
            (f'min(pg_up{{job="{POSTGRES_JOB}"}})', "postgres"),
        ], unit="short"),
    ]


def build(profile: Profile) -> gm.Dashboard:
    """The SDK's dashboard model for `profile`."""
    board = (gdash.Dashboard(f"loadline {profile.environment} ({profile.namespace})")
             .uid(f"loadline-{profile.environment}").tags(["loadline", profile.environment])
             .timezone("utc").refresh("30s").time("now-1h", "now").readonly())
    rows = [("Service level", _service_level(profile)), ("Traffic", _traffic(profile)),
            ("Cache and Redis", _cache_and_redis()), ("Capacity and dependencies", _capacity(profile))]
    panel_id = 0
    for title, panels in rows:
        panel_id += 1
        board = board.with_row(gdash.Row(title).id(panel_id))
        for panel in panels:
            panel_id += 1
            board = board.with_panel(panel.id(panel_id))
    return board.build()


def dashboard(profile: Profile) -> dict[str, Any]:
    """The dashboard as the JSON object Grafana provisions."""
    board: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(build(profile)))
    return board
