"""The reference tables in docs/ are generated from the models and must match them."""

from __future__ import annotations

import importlib.util
import re

from loadline.profile import REPO_ROOT

_spec = importlib.util.spec_from_file_location("docs_reference", REPO_ROOT / "scripts" / "docs_reference.py")
docs_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_reference)


def _assert_current(name: str) -> None:
    path = docs_reference.PAGES[name]
    text = path.read_text()
    assert docs_reference.begin(name) in text, f"{path.name} lost its generated-table markers"
    assert docs_reference.render(name, text) == text, (
        f"{path.relative_to(REPO_ROOT)} is out of date with the model: run `make docs` and commit the result")


def test_profile_reference_matches_the_model():
    _assert_current("profile")


def test_settings_reference_matches_the_model():
    _assert_current("settings")


def test_every_setting_is_explained_in_the_hand_written_table():
    text = docs_reference.PAGES["settings"].read_text()
    explained = text.split(docs_reference.begin("settings"))[0]
    variables = [row[0].strip("`") for row in docs_reference.settings_rows()]
    missing = [v for v in variables if not re.search(rf"^\| `{v}` \|", explained, re.M)]
    assert missing == [], f"docs/settings.md does not explain {missing}"


def test_a_changed_model_makes_the_page_stale():
    text = docs_reference.PAGES["profile"].read_text()
    stale = text.replace("| `namespace` |", "| `namespaces` |")
    assert docs_reference.render("profile", stale) != stale
