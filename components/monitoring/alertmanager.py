"""Alertmanager configuration derived from a profile.

Pure function, like `config.py`: `loadline render` writes it beside the Prometheus files
for every stack (checked with `amtool check-config`), and `loadline local up` runs a real
Alertmanager with it, its receiver pointing at the webhook the load gate listens on.

Alerts are grouped per alert name and namespace. The timings are short where a person
must act (a page is sent within seconds of Prometheus firing it) and the repeat interval
is long, so one incident is one notification per group, with its resolution.
"""

from __future__ import annotations

from typing import Any

from loadline.profile import Profile

DEFAULT_RECEIVER = "default"
PAGE_RECEIVER = "page"


def alertmanager_config(profile: Profile, *, webhook_url: str | None = None,
                        group_wait: str = "10s", group_interval: str = "1m",
                        repeat_interval: str = "4h") -> dict[str, Any]:
    """The content of alertmanager.yml.

    `webhook_url`: every notification goes there (the local environment points it at the
    gate's receiver). Without one the receivers have no integration yet: an operator adds
    theirs (PagerDuty for `page`, chat or e-mail for `default`), and the routing stays as
    rendered.
    """
    hook = {"webhook_configs": [{"url": webhook_url, "send_resolved": True}]} if webhook_url else {}
    receivers = [{"name": DEFAULT_RECEIVER, **hook}, {"name": PAGE_RECEIVER, **hook}]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", "namespace"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
            "routes": [{"receiver": PAGE_RECEIVER, "matchers": ['severity="page"']}],
        },
        "receivers": receivers,
    }
