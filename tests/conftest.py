import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.fixtures.services", "tests.fixtures.local_env"]


def pytest_collection_modifyitems(config, items):
    """Tests that fault or break the shared local environment run last (in that order), so it
    comes up once per session."""
    from tests.fixtures.local_env import run_order

    items.sort(key=lambda item: run_order(getattr(item, "fixturenames", ())))


@pytest.fixture(autouse=True)
def _verdicts_match_the_schema(request):
    """A test that writes a verdict.json into its tmp_path gets it checked against the schema."""
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is not None:
        from tests.verdict_schema import assert_valid_verdict_files

        assert_valid_verdict_files(tmp)
