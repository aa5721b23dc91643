"""Image: the service's image reference, built from app/ with pulumi-docker when the profile asks."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from loadline.profile import REPO_ROOT, Profile

DOCKERFILE = REPO_ROOT / "app" / "Dockerfile"


@dataclass
class ImageArgs:
    profile: Profile
    """The validated profile; `profile.image` gives repository, pinned tag and whether to build."""
    platform: str = "linux/amd64"
    """Target platform of the build."""


class Image(pulumi.ComponentResource):
    """Either builds and pushes `repository:tag` from app/, or passes the pinned reference through."""

    ref: pulumi.Output[str]

    def __init__(self, name: str, args: ImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("loadline:image:Image", name, None, opts)
        img = args.profile.image
        if img.build:
            built = docker.Image(
                f"{name}-build",
                # The build pushes the tag; a digest in the profile describes an existing push.
                image_name=f"{img.repository}:{img.tag}",
                build=docker.DockerBuildArgs(
                    context=str(REPO_ROOT),
                    dockerfile=str(DOCKERFILE),
                    platform=args.platform,
                ),
                skip_push=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            # Deploy by digest once pushed: the tag could be overwritten, the digest cannot.
            self.ref = built.repo_digest.apply(lambda digest: digest or img.ref)
        else:
            self.ref = pulumi.Output.from_input(img.ref)
        self.register_outputs({"ref": self.ref})
