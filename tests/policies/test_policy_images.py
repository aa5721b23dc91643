"""Image pinning and the registry allowlist."""

import pytest
from policy_builders import container, deployment

from policies.guardrails import Context
from policies.guardrails.images import DIGEST, ImageRef, images_pinned, parse_image


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


@pytest.mark.parametrize("ref, allowed", [
    ("ghcr.io/acme/web:1.0", True),
    ("ghcr.io/acme/team/web:1.0", True),
    ("ghcr.io/acme-evil/web:1.0", False),   # a prefix of the name, not of the path
    ("ghcr.io/acmeweb:1.0", False),
    ("ghcr.io/other/web:1.0", False),
    ("docker.io/acme/web:1.0", False),
])
def test_allowed_repository_prefix_stops_at_a_path_boundary(ref, allowed):
    msgs = images_pinned(_image(ref), Context(allowed_registries=("ghcr.io/acme",)))
    assert (msgs == []) is allowed, msgs


@pytest.mark.parametrize("entry", ["ghcr.io/acme", "ghcr.io/acme/"])
def test_an_allowed_entry_with_a_trailing_slash_means_the_same(entry):
    ctx = Context(allowed_registries=(entry,))
    assert images_pinned(_image("ghcr.io/acme/web:1.0"), ctx) == []
    assert images_pinned(_image("ghcr.io/acme-evil/web:1.0"), ctx) != []


def test_a_bare_registry_allows_everything_it_hosts():
    ctx = Context(allowed_registries=("ghcr.io", "docker.io/library"))
    assert images_pinned(_image("ghcr.io/anyone/web:1.0"), ctx) == []
    assert images_pinned(_image("redis:7.2.5"), ctx) == []
    assert images_pinned(_image("quay.io/anyone/web:1.0"), ctx) != []


def test_the_allowlist_message_names_the_image_and_the_list():
    ctx = Context(allowed_registries=("ghcr.io/acme", "quay.io/acme"))
    assert images_pinned(_image("ghcr.io/acme-evil/web:1.0"), ctx) == [
        "container web image 'ghcr.io/acme-evil/web:1.0' is not from an allowed registry "
        "(ghcr.io/acme, quay.io/acme)"]


def test_an_unpinned_image_from_a_foreign_registry_reports_both():
    msgs = images_pinned(_image("quay.io/x/web"), Context(allowed_registries=("ghcr.io/acme",)))
    assert len(msgs) == 2 and "has no tag" in msgs[0] and "allowed registry" in msgs[1]


def test_a_container_without_image_is_reported_and_a_computed_one_is_not():
    assert images_pinned(_image(None), Context()) == ["container web has no image"]
    assert images_pinned(_image(42), Context()) == []


def test_localhost_is_a_registry_even_without_a_port():
    assert parse_image("localhost/api:1.0") == ImageRef("localhost", "api", "1.0", None)


def test_an_allowed_entry_is_taken_literally():
    ctx = Context(allowed_registries=("ghcr.io/teamX",))
    assert images_pinned(_image("ghcr.io/teamX/web:1.0"), ctx) == []


def test_a_computed_image_does_not_stop_the_check_of_the_next_container():
    web = deployment(containers=[container(name="a", image=42), container(name="b", image="nginx")])
    assert images_pinned(web, Context()) == ["container b image 'nginx' has no tag (it means latest)"]


def test_every_image_is_judged_after_one_that_is_missing_or_computed():
    from policies.guardrails import UNKNOWN
    from policies.guardrails.images import image_digests

    web = deployment(containers=[container(name="computed", image=UNKNOWN), container(name="tagged", image="redis:7.2.5")])
    assert image_digests(web, Context(environment="prod")) == [
        "container tagged image 'redis:7.2.5' is pinned by tag only; a tag can be moved"]


def test_a_digest_is_64_hex_digits_and_nothing_after_them():
    good = "sha256:" + "0123456789abcdef" * 4
    assert DIGEST.match(good)
    for bad in (good + "\n", good + "0", good[:-1], " " + good):
        assert DIGEST.match(bad) is None, repr(bad)
