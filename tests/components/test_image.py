from __future__ import annotations

from component_helpers import make_profile

from components.image import DOCKERFILE, Image, ImageArgs
from loadline.profile import REPO_ROOT


def test_pinned_reference_creates_nothing(build):
    rec = build(lambda: Image("loadline-image", ImageArgs(profile=make_profile("prod"))))
    assert [r.type_token for r in rec.registered] == ["loadline:image:Image"]


def test_build_mode_builds_app_with_pulumi_docker(build):
    profile = make_profile("dev", {"image": {"build": True, "tag": "0.2.0-rc1"}})
    rec = build(lambda: Image("loadline-image", ImageArgs(profile=profile)))
    image = rec.one("docker:index/image:Image").props
    assert image["imageName"] == "ghcr.io/loadline/events-api:0.2.0-rc1"
    assert image["build"]["dockerfile"] == str(DOCKERFILE) == str(REPO_ROOT / "app" / "Dockerfile")
    assert image["build"]["context"] == str(REPO_ROOT)
    assert image["build"]["platform"] == "linux/amd64"
