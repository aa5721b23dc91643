"""Observability guardrails: monitored Services are scraped, every SLO target has an alert.

"Scraped" is decided the way Prometheus would decide it, from what the stack ships:
* a `ServiceMonitor` whose selector and namespaceSelector match the Service and whose
  endpoints name one of its ports (operator mode);
* a job in a `prometheus.yml` (a ConfigMap key, or the render's prometheus_config) whose
  `kubernetes_sd_configs` reach the Service's namespace and whose keep/drop relabel rules
  let the Service through, or whose static targets or `dns_sd_configs` names name the
  Service or one of its pods (`pod.service.namespace.svc...`), or that scrapes loopback
  from the pods that mount the config (Prometheus scraping itself).

A job that reaches the pods through another Service (e.g. the headless one) scrapes them too.

A workload is monitored when its pods expose a port named like `metrics` (or carry
`prometheus.io/scrape: "true"`), or when a Service in front of them declares its scrape job
with the `loadline.dev/job` label, carries that annotation, or exposes such a port. Every
Service in front of a monitored workload's pods must be scraped, through itself or its pods. When it declares a job, the job that reaches it must carry that name,
because the alert rules select on `job`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from policies.guardrails import k8s
from policies.guardrails.model import Context, Obj, PolicySpec

JOB_LABEL = "loadline.dev/job"
SCRAPE_ANNOTATION = "prometheus.io/scrape"
CONFIG_KEYS = ("prometheus.yml", "prometheus.yaml")


def _parse_yaml(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def rule_files(objects: Sequence[Obj], ctx: Context) -> list[Mapping[str, Any]]:
    """Every rule file the stack ships: PrometheusRules, ConfigMap rule files, known extras."""
    found = [f for f in ctx.alert_rule_files if isinstance(f, Mapping)]
    for o in objects:
        if k8s.kind(o) == "PrometheusRule":
            found.append(k8s.as_dict(o.get("spec")))
        elif k8s.kind(o) == "ConfigMap":
            for key, text in k8s.as_dict(o.get("data")).items():
                if key in CONFIG_KEYS:
                    continue
                parsed = _parse_yaml(text)
                if isinstance(parsed, Mapping) and isinstance(parsed.get("groups"), list):
                    found.append(parsed)
    return found


def _alerting_rules(files: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for f in files:
        for group in k8s.as_list(f.get("groups")):
            for rule in k8s.as_list(k8s.as_dict(group).get("rules")):
                rule = k8s.as_dict(rule)
                if rule.get("alert") and rule.get("expr"):
                    yield rule


def slo_alert_rules(objects: Sequence[Obj], ctx: Context) -> list[tuple[Obj | None, str]]:
    if ctx.slo_targets is None:
        return []
    covered = {str(k8s.as_dict(r.get("labels")).get("slo")) for r in _alerting_rules(rule_files(objects, ctx))}
    return [(None, f"no alerting rule carries the label slo: {target} for the profile's SLO target")
            for target in ctx.slo_targets if target not in covered]


def _sanitize(label: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def _meta_labels(service: Obj, port: Mapping[str, Any]) -> dict[str, str]:
    meta = {"__meta_kubernetes_namespace": k8s.namespace(service),
            "__meta_kubernetes_service_name": k8s.name(service),
            "__meta_kubernetes_endpoint_port_name": str(port.get("name", "")),
            "__meta_kubernetes_service_port_name": str(port.get("name", ""))}
    for k, v in k8s.labels(service).items():
        meta[f"__meta_kubernetes_service_label_{_sanitize(k)}"] = str(v)
        meta[f"__meta_kubernetes_service_labelpresent_{_sanitize(k)}"] = "true"
    for k, v in k8s.annotations(service).items():
        meta[f"__meta_kubernetes_service_annotation_{_sanitize(k)}"] = str(v)
    return meta


def _relabel_keeps(rules: Any, meta: Mapping[str, str]) -> bool:
    """Apply keep/drop rules; other actions cannot drop a target, so they are skipped."""
    for rule in k8s.as_list(rules):
        rule = k8s.as_dict(rule)
        action = rule.get("action", "replace")
        if action not in ("keep", "drop"):
            continue
        sep = rule.get("separator", ";")
        value = sep.join(meta.get(s, "") for s in k8s.as_list(rule.get("source_labels")))
        try:
            matched = re.fullmatch(str(rule.get("regex", "(.*)")), value) is not None
        except re.error:
            return False
        if (action == "keep") != matched:
            return False
    return True


def _sd_reaches(job: Mapping[str, Any], service: Obj) -> bool:
    for sd in k8s.as_list(job.get("kubernetes_sd_configs")):
        sd = k8s.as_dict(sd)
        if sd.get("role") not in ("endpoints", "endpointslice", "service"):
            continue
        names = k8s.as_list(k8s.get(sd, "namespaces", "names"))
        if names and k8s.namespace(service) not in names:
            continue
        for port in k8s.as_list(k8s.get(service, "spec", "ports")):
            if _relabel_keeps(job.get("relabel_configs"), _meta_labels(service, k8s.as_dict(port))):
                return True
    return False


def _target_hosts(job: Mapping[str, Any]) -> list[str]:
    """Hosts a job scrapes by name: static targets and DNS service discovery names."""
    hosts = [str(t).rsplit(":", 1)[0] for sc in k8s.as_list(job.get("static_configs"))
             for t in k8s.as_list(k8s.as_dict(sc).get("targets"))]
    hosts += [str(n).rsplit(":", 1)[0] for sd in k8s.as_list(job.get("dns_sd_configs"))
              for n in k8s.as_list(k8s.as_dict(sd).get("names"))]
    return hosts


def _host_names_service(host: str, service: Obj) -> bool:
    """`svc`, `svc.ns[.svc...]`, or a pod's DNS name under it, `pod.svc.ns[.svc...]`."""
    svc, ns = k8s.name(service), k8s.namespace(service)
    parts = host.split(".")
    if parts[0] == svc and (len(parts) == 1 or parts[1] == ns):
        return True
    return len(parts) >= 3 and parts[1] == svc and parts[2] == ns


_LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")


def _config_sources(objects: Sequence[Obj], ctx: Context) -> list[tuple[Mapping[str, Any], list[Obj]]]:
    """(prometheus.yml, the workloads that run it) for every config the stack ships."""
    workloads = [o for o in objects if k8s.kind(o) in k8s.POD_KINDS]
    out: list[tuple[Mapping[str, Any], list[Obj]]] = []
    for o in objects:
        if k8s.kind(o) != "ConfigMap":
            continue
        for key in CONFIG_KEYS:
            parsed = _parse_yaml(k8s.as_dict(o.get("data")).get(key))
            if isinstance(parsed, Mapping):
                out.append((parsed, [w for w in workloads if _mounts(w, o)]))
    # Configs known besides the objects (the render's) run nowhere we can see.
    out += [(c, []) for c in ctx.prometheus_configs if isinstance(c, Mapping)]
    return out


def _mounts(workload: Obj, config_map: Obj) -> bool:
    tpl = k8s.pod_template(workload)
    if not tpl or k8s.namespace(workload) != k8s.namespace(config_map):
        return False
    wanted = k8s.name(config_map)
    for vol in k8s.as_list(tpl[1].get("volumes")):
        vol = k8s.as_dict(vol)
        if k8s.get(vol, "configMap", "name") == wanted:
            return True
        if any(k8s.get(src, "configMap", "name") == wanted
               for src in k8s.as_list(k8s.get(vol, "projected", "sources"))):
            return True
    return False


def _monitor_reaches(monitor: Obj, service: Obj) -> bool:
    if k8s.kind(monitor) != "ServiceMonitor":
        return False
    spec = k8s.as_dict(monitor.get("spec"))
    ns_sel = k8s.as_dict(spec.get("namespaceSelector"))
    if ns_sel.get("any") is not True:
        names = k8s.as_list(ns_sel.get("matchNames")) or [k8s.namespace(monitor)]
        if k8s.namespace(service) not in names:
            return False
    if not k8s.selector_matches(spec.get("selector"), k8s.labels(service)):
        return False
    port_names = {k8s.as_dict(p).get("name") for p in k8s.as_list(k8s.get(service, "spec", "ports"))}
    return any(k8s.as_dict(e).get("port") in port_names or k8s.as_dict(e).get("targetPort") is not None
               for e in k8s.as_list(spec.get("endpoints")))


def _monitored(service: Obj) -> bool:
    if k8s.kind(service) != "Service":
        return False
    if JOB_LABEL in k8s.labels(service) or str(k8s.annotations(service).get(SCRAPE_ANNOTATION)) == "true":
        return True
    return any("metrics" in str(k8s.as_dict(p).get("name", "")) for p in k8s.as_list(k8s.get(service, "spec", "ports")))


def _exposes_metrics(workload: Obj) -> bool:
    tpl = k8s.pod_template(workload)
    if not tpl or not k8s.is_long_running(workload):
        return False
    if str(k8s.as_dict(tpl[0].get("annotations")).get(SCRAPE_ANNOTATION)) == "true":
        return True
    return any("metrics" in str(k8s.as_dict(p).get("name", ""))
               for _, c in k8s.containers(tpl[1], init=False) for p in k8s.as_list(c.get("ports")))


def services_scraped(objects: Sequence[Obj], ctx: Context) -> list[tuple[Obj | None, str]]:
    services = [o for o in objects if k8s.kind(o) == "Service"]
    workloads = [o for o in objects if k8s.kind(o) in k8s.POD_KINDS]

    def pods_of(svc: Obj) -> set[int]:
        return {id(w) for w in workloads
                if k8s.namespace(w) == k8s.namespace(svc) and k8s.service_selects(svc, k8s.pod_labels(w))}

    # job name -> the Services and workloads (pods) it reaches. A scrape through any Service
    # (or pod DNS name, or loopback from Prometheus' own pod) reaches the same pods, so a
    # client Service counts as scraped when the job reaches its pods via the headless one.
    reached: dict[str, tuple[set[int], set[int]]] = {}
    for config, runners in _config_sources(objects, ctx):
        for job in k8s.as_list(config.get("scrape_configs")):
            job = k8s.as_dict(job)
            svcs, pods = reached.setdefault(str(job.get("job_name")), (set(), set()))
            hosts = _target_hosts(job)
            for svc in services:
                if _sd_reaches(job, svc) or any(_host_names_service(h, svc) for h in hosts):
                    svcs.add(id(svc))
                    pods |= pods_of(svc)
            if any(h in _LOOPBACK for h in hosts):
                pods |= {id(w) for w in runners}
    monitors = [o for o in objects if k8s.kind(o) == "ServiceMonitor"]

    # A monitored workload: its pods expose a metrics port or sit behind a monitored Service.
    # Every Service in front of its pods must then be scraped (through itself or its pods).
    monitored_pods = {id(w) for w in workloads if _exposes_metrics(w)}
    for svc in filter(_monitored, services):
        monitored_pods |= pods_of(svc)
    checked = [svc for svc in services if _monitored(svc) or pods_of(svc) & monitored_pods]

    out: list[tuple[Obj | None, str]] = []
    for svc in checked:
        declared = k8s.labels(svc).get(JOB_LABEL)
        own_pods = pods_of(svc)
        jobs = sorted(name for name, (svcs, pods) in reached.items()
                      if id(svc) in svcs or (own_pods and own_pods & pods))
        by_monitor = [m for m in monitors if _monitor_reaches(m, svc)]
        if declared is not None:
            by_monitor = [m for m in by_monitor if k8s.get(m, "spec", "jobLabel") == JOB_LABEL]
            if str(declared) not in jobs and not by_monitor:
                seen = f" (reached only by job {', '.join(jobs)})" if jobs else ""
                out.append((svc, f"declares scrape job '{declared}' but no Prometheus job of that name "
                                 f"and no ServiceMonitor reaches it or its pods{seen}"))
        elif not jobs and not by_monitor:
            out.append((svc, "fronts pods that expose metrics but no Prometheus job or ServiceMonitor "
                             "scrapes it or its pods"))
    return out


POLICIES = [
    PolicySpec(
        name="services-scraped",
        description="Every Service of a monitored workload is scraped by Prometheus.",
        hint="add a scrape job (static pod targets or kubernetes_sd_configs) or a ServiceMonitor that "
             "selects the Service; the job name must equal its loadline.dev/job label",
        scope="stack", check=services_scraped),
    PolicySpec(
        name="slo-alert-rules",
        description="An alerting rule exists for each SLO target of the profile.",
        hint="generate the rules with components.monitoring.config.alert_rules(profile); each rule "
             "carries the label slo: <target>",
        scope="stack", check=slo_alert_rules),
]
