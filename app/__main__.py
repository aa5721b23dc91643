"""`python -m app serve | migrate`: the two commands the container and `loadline local` run."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import ValidationError


def _settings():
    from app.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            name = f"EVENTS_{field.upper()}" if field != "settings" else "settings"
            msg = err["msg"].removeprefix("Value error, ")
            print(f"error: {name}: {msg}" if err["loc"] else f"error: {msg}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="The loadline events service.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the production server (EVENTS_WORKERS processes)")
    sub.add_parser("migrate", help="wait for the database, apply pending migrations, exit")
    args = parser.parse_args(argv)
    settings = _settings()

    from app.logs import configure

    configure(settings.log_level)
    if args.command == "migrate":
        from app.migrations import MigrationError, migrate

        try:
            applied = asyncio.run(migrate(settings.database_url, wait_s=settings.migrate_wait_seconds))
        except MigrationError as exc:
            print(f"error: migrate: {exc}", file=sys.stderr)
            return 1
        print(f"migrate: applied {applied or 'nothing (up to date)'}")
        return 0
    from app.server import serve

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
