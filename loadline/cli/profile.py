"""`loadline profile STACK`: validate a stack's profile and print it resolved."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("profile")
    def profile_cmd(
        stack: str = typer.Argument(..., help="stack name, e.g. dev (reads stacks/Pulumi.<stack>.yaml)"),
    ) -> None:
        """Validate STACK's profile; print it as JSON with every default filled in."""
        from loadline.profile import ProfileError, load_profile

        try:
            prof = load_profile(stack)
        except ProfileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(json.dumps(prof.model_dump(mode="json", by_alias=True), indent=2))
