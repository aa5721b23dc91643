"""Image pinning and the registry allowlist."""

import pytest

from policies.guardrails import Context
from policies.guardrails.images import ImageRef, images_pinned, parse_image
from policy_builders import container, deployment


@pytest.mark.parametrize("ref, expected", [
    ("redis:7.2.5", ImageRef("docker.io", "library/redis", "7.2.5", None)),
    ("ghcr.io/loadline/events-api:0.1.0", ImageRef("ghcr.io", "loadline/events-api", "0.1.0", None)),
    ("localhost:5000/api", ImageRef("localhost:5000", "api", None, None)),
    ("prom/prometheus", ImageRef("docker.io", "prom/prometheus", None, None)),
    ("nginx@sha256:abc", ImageRef("docker.io", "library/nginx", None, "sha256:abc")),
])
def test_parse_image(ref, expected):
    assert parse_image(ref) == expected


def _image(ref):
    return deployment(containers=[container(image=ref)])


@pytest.mark.parametrize("ref", ["redis:7.2.5", "nginx@sha256:abc", "localhost:5000/api:1.0"])
def test_pinned_images_pass(ref):
    assert images_pinned(_image(ref), Context()) == []


@pytest.mark.parametrize("ref, expected", [
    ("nginx", "has no tag"),
    ("nginx:latest", "floating tag latest"),
    ("localhost:5000/api", "has no tag"),
])
def test_unpinned_images_fail(ref, expected):
    msgs = images_pinned(_image(ref), Context())
    assert len(msgs) == 1 and expected in msgs[0] and ref in msgs[0]


def test_allowed_registries():
    ctx = Context(allowed_registries=("ghcr.io/acme",))
    assert images_pinned(_image("ghcr.io/acme/web:1.0"), ctx) == []
    msgs = images_pinned(_image("docker.io/evil/web:1.0"), ctx)
    assert msgs and "not from an allowed registry" in msgs[0]
