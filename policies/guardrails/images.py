"""Image references: pinned to a version or digest, optionally from allowed registries only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from policies.guardrails import k8s
from policies.guardrails.model import Context, Obj, PolicySpec

DEFAULT_REGISTRY = "docker.io"


class ImageRef(NamedTuple):
    registry: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image(ref: str) -> ImageRef:
    """Split `[registry/]repository[:tag][@digest]` the way the container runtime does."""
    rest, _, digest = ref.partition("@")
    first, slash, remainder = rest.partition("/")
    # The first path component is a registry only if it looks like a host (docker's rule).
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DEFAULT_REGISTRY, rest
    repo, colon, tag = path.rpartition(":")
    if not colon:
        repo, tag = path, ""
    if registry == DEFAULT_REGISTRY and "/" not in repo:
        repo = f"library/{repo}"
    return ImageRef(registry, repo, tag or None, digest or None)


def _allowed(image: ImageRef, allowed: tuple[str, ...]) -> bool:
    full = f"{image.registry}/{image.repository}"
    return any(full == a or full.startswith(a.rstrip("/") + "/") or image.registry == a for a in allowed)


def _images(obj: Obj) -> Iterator[tuple[str, object]]:
    """(container label, its `image` value) of every container of a pod-bearing object.

    The value is passed through as found: a string, None when missing, or anything else
    when the engine has not computed it yet (a preview), which each policy judges itself.
    """
    tpl = k8s.pod_template(obj)
    if not tpl:
        return
    for label, c in k8s.containers(tpl[1]):
        yield label, c.get("image")


def images_pinned(obj: Obj, ctx: Context) -> list[str]:
    out = []
    for label, image in _images(obj):
        if not isinstance(image, str):
            if image is None:
                out.append(f"{label} has no image")
            continue  # computed during preview: judged when known
        ref = parse_image(image.strip())
        if ref.digest is None and ref.tag is None:
            out.append(f"{label} image '{image}' has no tag (it means latest)")
        elif ref.digest is None and ref.tag == "latest":
            out.append(f"{label} image '{image}' uses the floating tag latest")
        if ctx.allowed_registries and not _allowed(ref, ctx.allowed_registries):
            out.append(f"{label} image '{image}' is not from an allowed registry "
                       f"({', '.join(ctx.allowed_registries)})")
    return out


DIGEST = re.compile(r"^sha256:[0-9a-f]{64}\Z")


def image_digests(obj: Obj, ctx: Context) -> list[str]:
    out = []
    for label, image in _images(obj):
        if not isinstance(image, str):
            continue  # missing: images-pinned reports it; computed: judged when known
        digest = parse_image(image.strip()).digest
        if digest is None:
            out.append(f"{label} image '{image}' is pinned by tag only; a tag can be moved")
        elif not DIGEST.match(digest):
            out.append(f"{label} image '{image}' has a malformed digest (expected sha256:<64 hex>)")
    return out


POLICIES = [
    PolicySpec(
        name="images-pinned",
        description="Every image is pinned to a version tag or digest (no latest, no untagged), "
                    "from an allowed registry when a list is configured.",
        hint="use an explicit version such as redis:7.2.5 or an @sha256 digest; "
             "never latest or a bare repository name",
        scope="resource", check=images_pinned, kinds=k8s.POD_KINDS),
    PolicySpec(
        name="image-digests",
        description="Every image carries a digest (repo:tag@sha256:...). Mandatory in prod, "
                    "advisory in every other environment.",
        hint="append the digest the tag points at: `crane digest IMAGE:TAG` or "
             "`docker buildx imagetools inspect IMAGE:TAG` (profile: image.digest, images.digests)",
        scope="resource", check=image_digests, kinds=k8s.POD_KINDS,
        mandatory_in=frozenset({"prod"})),
]
