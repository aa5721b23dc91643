"""Monitoring: bundled Prometheus + Grafana + kube-state-metrics, or Prometheus Operator objects.

`config` holds pure functions (no Pulumi import) so `loadline local` can use them cheaply.
"""
