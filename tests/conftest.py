import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.fixtures.services", "tests.fixtures.local_env"]


def pytest_collection_modifyitems(config, items):
    """Tests that break the shared local environment run last, so it comes up once per session."""
    from tests.fixtures.local_env import BREAKS_LOCAL_ENV

    breaking = [item for item in items if BREAKS_LOCAL_ENV in getattr(item, "fixturenames", ())]
    if breaking:
        items[:] = [item for item in items if item not in breaking] + breaking


@pytest.fixture(autouse=True)
def _verdicts_match_the_schema(request):
    """A test that writes a verdict.json into its tmp_path gets it checked against the schema."""
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is not None:
        from tests.verdict_schema import assert_valid_verdict_files

        assert_valid_verdict_files(tmp)
