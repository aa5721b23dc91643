"""`loadline`: the operator command line. Each command group lives in a module beside this one."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="loadline",
    help="Render, check, run and load-test loadline environments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """Render, check, run and load-test loadline environments."""


# Each module registers its commands on `app`; the order is the order of `--help`.
COMMAND_MODULES: list[str] = [
    "profile",
    "render",
    "check",
    "local",
    "loadtest",
    "demo",
    "env",
]


for _name in COMMAND_MODULES:
    importlib.import_module(f"loadline.cli.{_name}").register(app)


def main() -> None:
    app()
