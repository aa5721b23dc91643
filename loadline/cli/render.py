"""`loadline render --stack S --out DIR`: the real program under mocks, written as YAML and validated."""

from __future__ import annotations

from pathlib import Path

import typer

from loadline.core import STACKS_DIR


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render_cmd(
        stack: str = typer.Option(..., "--stack", "-s", help="stack name (stacks/Pulumi.<stack>.yaml)"),
        out: Path = typer.Option(None, "--out", "-o", help="output directory (default: out/<stack>)"),
        stacks_dir: Path = typer.Option(STACKS_DIR, "--stacks-dir", help="directory of Pulumi.<stack>.yaml files"),
        validate_output: bool = typer.Option(True, "--validate/--no-validate",
                                             help="strict Kubernetes schema validation and promtool checks"),
    ) -> None:
        """Render STACK offline: every Kubernetes object as YAML plus the Prometheus files, then validate.

        Exit status: 0 rendered and valid, 1 a manifest or monitoring file is invalid,
        2 the profile (or other stack config) is invalid.
        """
        from loadline.profile import ProfileError
        from loadline.render import RenderError
        from loadline.render.pipeline import render_and_validate

        out_dir = out or Path("out") / stack
        try:
            result, problems = render_and_validate(stack, stacks_dir=stacks_dir, validate_output=validate_output)
        except ProfileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except RenderError as exc:
            typer.echo(f"error: stack '{stack}': {exc}", err=True)
            raise typer.Exit(2) from None
        written = result.write(out_dir)
        kinds: dict[str, int] = {}
        for m in result.manifests:
            kinds[m["kind"]] = kinds.get(m["kind"], 0) + 1
        typer.echo(f"rendered stack '{stack}': {len(result.manifests)} Kubernetes objects, "
                   f"{len(written)} files in {out_dir}")
        typer.echo("  " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        masked = sum(len(r.secret_paths) for r in result.resources if r.is_kubernetes)
        typer.echo(f"  {masked} secret value(s) masked")
        if not validate_output:
            return
        version = result.profile.kubernetes_version
        if problems:
            for problem in problems:
                typer.echo(f"error: {problem}", err=True)
            typer.echo(f"invalid: {len(problems)} problem(s) in stack '{stack}'", err=True)
            raise typer.Exit(1)
        typer.echo(f"valid: {len(result.manifests)} manifests against Kubernetes {version} schemas (strict)")
        if result.prometheus_config is not None:
            typer.echo("valid: promtool check config (prometheus.yml and its rule file)")
        if result.rule_tests is not None:
            burn = sum(len(f["tests"]) for f in (result.burn_rate_tests or {}).values())
            typer.echo(f"valid: promtool check rules; promtool test rules "
                       f"({len(result.rule_tests['tests'])} rule test groups, {burn} burn-rate test groups)")
        if result.alertmanager_config is not None:
            typer.echo("valid: amtool check-config (alertmanager.yml)")
