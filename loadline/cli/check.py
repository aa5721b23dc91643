"""`loadline check`: run the policy pack offline on a stack or on a directory of manifests."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from loadline.core import ENVIRONMENTS


class Enforcement(str, Enum):
    mandatory = "mandatory"
    advisory = "advisory"


def _fail(message: str) -> None:
    from loadline.check import EXIT_UNREADABLE

    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_UNREADABLE)


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check_cmd(
        stack: str | None = typer.Option(
            None, "--stack", help="render this stack offline (stacks/Pulumi.<stack>.yaml) and check it"),
        manifests: Path | None = typer.Option(
            None, "--manifests", help="check every *.yaml/*.yml/*.json file under this directory instead"),
        enforcement: Enforcement | None = typer.Option(
            None, "--enforcement",
            help="mandatory violations fail (exit 1), advisory ones only warn; default: mandatory for "
                 "--manifests, the environment's level for --stack (prod/staging mandatory, others advisory)"),
        environment: str | None = typer.Option(
            None, "--environment", help=f"with --manifests: {'|'.join(ENVIRONMENTS)} for the prod-only "
                                        "policies (default: the --profile's, else prod)"),
        profile: str | None = typer.Option(
            None, "--profile", help="with --manifests: take the environment and SLO targets from this stack's profile"),
        allowed_registry: list[str] = typer.Option(
            [], "--allowed-registry", help="only allow images from this registry or prefix (repeatable)"),
        as_json: bool = typer.Option(False, "--json", help="print the findings as JSON"),
    ) -> None:
        """Evaluate the guardrails; exit 0 clean, 1 on a mandatory violation, 2 on unreadable input."""
        # The policy pack and the render load slowly: only this command pays for them.
        from loadline.check import ManifestError, check_manifests, check_stack
        from loadline.check.report import render_json, render_text
        from loadline.profile import ProfileError, load_profile
        from loadline.render import RenderError
        from policies.guardrails import Level

        if (stack is None) == (manifests is None):
            _fail("pass exactly one of --stack STACK or --manifests DIR")
        if environment is not None and environment not in ENVIRONMENTS:
            _fail(f"--environment: '{environment}' is not one of {', '.join(ENVIRONMENTS)}")
        level = Level(enforcement.value) if enforcement else None
        try:
            if stack is not None:
                if environment or profile:
                    _fail("--environment and --profile apply to --manifests; a stack's profile sets both")
                result = check_stack(stack, level=level, allowed_registries=allowed_registry)
            else:
                assert manifests is not None  # exactly one of the two, checked above
                prof = load_profile(profile) if profile else None
                result = check_manifests(manifests, level=level or Level.MANDATORY, environment=environment,
                                         profile=prof, allowed_registries=allowed_registry)
        except (ManifestError, ProfileError) as exc:
            _fail(str(exc))
        except RenderError as exc:  # the program failed under mocks: name it, no traceback
            _fail(f"stack '{stack}' could not be rendered: {exc}")
        typer.echo(render_json(result) if as_json else render_text(result))
        raise typer.Exit(result.exit_code)
