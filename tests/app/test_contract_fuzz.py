"""Schemathesis against the real service: every operation of /openapi.json, all phases, all checks.

The server is `python -m app serve` (uvicorn) on the session's real PostgreSQL and Redis.
Generation is derandomized and bounded (FUZZ_EXAMPLES per operation and phase), so a
run always sends the same requests: it cannot flake, and a failure reproduces with the
same command. docs/testing.md says how to run it and how to read a failure.
"""

from __future__ import annotations

import os

import hypothesis
import pytest
import requests
import schemathesis

from app.main import create_app
from tests.app.conftest import API_KEY, make_settings
from tests.app.contract_hooks import map_case
from tests.app.serve import serve

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_STATEFUL_SCENARIOS", "40"))

CONFIG = {
    "headers": {"X-API-Key": API_KEY},
    "checks": {"enabled": True},
    "phases": {name: {"enabled": True} for name in ("examples", "coverage", "fuzzing", "stateful")},
    "generation": {"max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none"},
}


@pytest.fixture(scope="module")
def api_url(database_url, redis, tmp_path_factory):
    """The service as deployed, with a rate limit the fuzzer cannot exhaust (429 stays documented)."""
    with serve(database_url, redis.url, tmp_path_factory.mktemp("contract"), workers=1,
               EVENTS_RATE_LIMIT_PER_SECOND="1000000", EVENTS_RATE_LIMIT_BURST="1000000",
               EVENTS_ACCESS_LOG="false") as served:
        yield served.base


def _document() -> dict:
    # The app's own document, built without a server so pytest can collect one test per operation;
    # test_the_served_document_is_the_one_fuzzed proves the server publishes the same one.
    return create_app(make_settings("postgresql://unused@127.0.0.1/unused", ["redis://127.0.0.1:1/0"])).openapi()


schema = schemathesis.openapi.from_dict(_document(), config=schemathesis.Config.from_dict(CONFIG))
schema.hook(map_case)


def test_the_served_document_is_the_one_fuzzed(api_url):
    assert requests.get(f"{api_url}/openapi.json", timeout=10).json() == _document()


@schema.parametrize()
@hypothesis.settings(max_examples=FUZZ_EXAMPLES, derandomize=True, database=None, deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck), print_blob=False)
def test_every_operation_keeps_its_contract(case, api_url):
    case.call_and_validate(base_url=api_url)


def test_call_sequences_keep_the_contract(api_url):
    """Stateful phase: create an event, then read it back through the links the schema implies."""

    class Sequences(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": api_url}

    Sequences.run(settings=hypothesis.settings(
        max_examples=STATEFUL_SCENARIOS, derandomize=True, database=None, deadline=None,
        stateful_step_count=6, suppress_health_check=list(hypothesis.HealthCheck), print_blob=False))
