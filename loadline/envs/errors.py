"""The one error type the env commands turn into `error: ...` and exit code 2."""

from __future__ import annotations


class EnvError(Exception):
    """A request that cannot be carried out; the message says why and what to do next."""
