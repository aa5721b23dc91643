"""Image digests: the profile pins them, every workload deploys them, and the pack accepts them."""

from __future__ import annotations

import pytest
from component_helpers import make_profile

from components import images
from components.environment import Environment, EnvironmentArgs
from loadline.profile import IMAGE_NAMES, ProfileError
from policies.guardrails import BY_NAME, Context, evaluate

DIGESTS = {name: "sha256:" + f"{i:x}" * 64 for i, name in enumerate(IMAGE_NAMES, start=1)}
SERVICE_DIGEST = "sha256:" + "f" * 64


def _workloads(rec):
    kinds = {"Deployment", "StatefulSet", "Job", "CronJob"}
    return [r.props for r in rec.registered if r.type_token.startswith("kubernetes:") and r.props["kind"] in kinds]


def _containers(obj):
    spec = obj["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"] if obj["kind"] == "CronJob" else spec["template"]["spec"]
    return pod["containers"]


def test_a_digest_pinned_prod_stack_passes_image_digests(build):
    profile = make_profile("prod", {"image": {"digest": SERVICE_DIGEST},
                                    "images": {"digests": DIGESTS, "unpinnedReason": None}})
    rec = build(lambda: Environment("loadline", EnvironmentArgs(profile=profile)))
    workloads = _workloads(rec)
    refs = {c["image"] for w in workloads for c in _containers(w)}
    assert f"ghcr.io/loadline/events-api:0.1.0@{SERVICE_DIGEST}" in refs
    assert f"redis:7.2.5@{DIGESTS['redis']}" in refs
    assert all("@sha256:" in r for r in refs) and len(refs) == 8
    assert not any("policy.loadline.dev/exempt.image-digests" in w["metadata"].get("annotations", {})
                   for w in workloads)
    findings = evaluate(workloads, Context(environment="prod"), [BY_NAME["image-digests"]])
    assert findings == []


def test_the_shipped_prod_profile_is_exempted_with_its_reason(build):
    profile = make_profile("prod")
    rec = build(lambda: Environment("loadline", EnvironmentArgs(profile=profile)))
    findings = evaluate(_workloads(rec), Context(environment="prod"), [BY_NAME["image-digests"]])
    assert findings and all(f.exempt_reason == profile.images.unpinned_reason for f in findings)


def test_tag_only_prod_without_a_reason_is_blocked(build):
    profile = make_profile("prod", {"images": {"unpinnedReason": None}})
    rec = build(lambda: Environment("loadline", EnvironmentArgs(profile=profile)))
    findings = evaluate(_workloads(rec), Context(environment="prod"), [BY_NAME["image-digests"]])
    assert findings and not any(f.exempted for f in findings)


def test_version_label_ignores_the_digest():
    assert images.version(f"redis:7.2.5@{DIGESTS['redis']}") == "7.2.5"
    assert images.version("localhost:5000/api@sha256:" + "a" * 64) == ""
    assert images.ref("redis", make_profile("dev", {"images": {"digests": {"redis": DIGESTS["redis"]}}})) == \
        f"redis:7.2.5@{DIGESTS['redis']}"


@pytest.mark.parametrize("patch, key, reason", [
    ({"image": {"digest": "sha256:abc"}}, "image.digest", "is not a digest"),
    ({"images": {"digests": {"nginx": DIGESTS["redis"]}}}, "images.digests", "'nginx' is no image of the stack"),
    ({"images": {"digests": {"redis": "latest"}}}, "images.digests", "is not a digest"),
    ({"images": {"unpinnedReason": "  "}}, "images.unpinnedReason", "must say why"),
])
def test_bad_digest_settings_name_the_key(patch, key, reason):
    with pytest.raises(ProfileError, match=f"{key}: .*{reason}"):
        make_profile("dev", patch)
