"""The alerts that fired during a run, as Alertmanager's webhook delivered them to the gate.

`AlertReceiver` listens on loopback (the port the local environment configured as its
Alertmanager receiver) for the whole run and keeps every notification with the time it
arrived. `alerts_report` turns them into the verdict's `alerts` section: each alert that
fired, when it started firing (Prometheus' `startsAt`), when the gate heard of it, and
whether it had resolved by the end.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field

from loadline.gate.host import is_loopback
from loadline.gate.sections import Number, Section


class ReceiverError(Exception):
    """The receiver could not listen; the message says where and why."""


class FiredAlert(Section):
    alertname: str
    severity: str | None
    status: str = Field(description='"firing", or "resolved" when its resolution arrived during the run')
    starts_at: str = Field(description="when Prometheus started firing it (RFC 3339, from Alertmanager)")
    starts_s: Number = Field(description="the same, in seconds since the load started (negative: before)")
    received_s: Number = Field(description="when the gate received it, seconds since the load started")
    labels: dict[str, str]


class AlertsReport(Section):
    """Notifications Alertmanager sent to the gate's receiver while the run lasted."""

    receiver: str = Field(description="the webhook URL the gate listened on")
    fired: list[FiredAlert] = Field(description="alerts that started firing during the run, in order")
    already_firing: list[FiredAlert] = Field(description="alerts notified during the run that fired before it began")


class AlertReceiver:
    """A webhook server on loopback that records Alertmanager's notifications (JSON bodies)."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not is_loopback(parts.hostname) or not parts.port:
            raise ReceiverError(f"alert webhook {url}: must be http://127.0.0.1:PORT/... (loopback only)")
        self.url = url
        self.notifications: list[tuple[float, dict[str, Any]]] = []
        received = self.notifications
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                with lock:
                    received.append((time.time(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        try:
            self.server = ThreadingHTTPServer((parts.hostname, parts.port), Handler)
        except OSError as exc:
            raise ReceiverError(f"alert webhook {url}: cannot listen ({exc})") from None
        self.thread = threading.Thread(target=self.server.serve_forever, name="alert-receiver", daemon=True)

    def __enter__(self) -> AlertReceiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def alerts_report(notifications: list[tuple[float, dict[str, Any]]], *, receiver: str, load_start: float) -> AlertsReport:
    """One entry per alert (by its fingerprint, else its labels): the first firing notice, its latest status."""
    seen: dict[str, FiredAlert] = {}
    for received_at, body in notifications:
        for alert in body.get("alerts", []):
            labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
            key = alert.get("fingerprint") or json.dumps(labels, sort_keys=True)
            starts_at = str(alert.get("startsAt", ""))
            try:
                starts_s = round(_epoch(starts_at) - load_start, 1)
            except ValueError:
                starts_s = round(received_at - load_start, 1)
            status = str(alert.get("status", "firing"))
            if key in seen:
                seen[key] = seen[key].model_copy(update={"status": status})
                continue
            if status != "firing":
                continue
            seen[key] = FiredAlert(alertname=labels.get("alertname", "?"), severity=labels.get("severity"),
                                   status=status, starts_at=starts_at, starts_s=starts_s,
                                   received_s=round(received_at - load_start, 1), labels=labels)
    alerts = sorted(seen.values(), key=lambda a: (a.starts_s, a.alertname))
    return AlertsReport(receiver=receiver, fired=[a for a in alerts if a.starts_s >= 0],
                        already_firing=[a for a in alerts if a.starts_s < 0])
