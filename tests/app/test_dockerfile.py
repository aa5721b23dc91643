"""The Dockerfile keeps its promises, and the image installs every library the service imports.

Docker cannot pull images on this machine, so the image is not built here; these
checks read the files the build uses.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
DOCKERFILE = (APP / "Dockerfile").read_text()


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_base_image_is_pinned_by_version():
    images = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert images and re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", images[0]), images
    for base in re.findall(r"^FROM (\S+)", DOCKERFILE, re.M):
        assert base == "${PYTHON_IMAGE}", f"FROM {base}: every stage must use the pinned base"


def test_runs_as_uid_10001_with_healthcheck_and_entrypoint():
    final_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER 10001:10001$", final_stage, re.M)
    assert "HEALTHCHECK" in final_stage and "/healthz" in final_stage
    assert 'ENTRYPOINT ["python", "-m", "app"]' in final_stage
    assert 'CMD ["serve"]' in final_stage
    assert "PYTHONDONTWRITEBYTECODE=1" in final_stage and "PROMETHEUS_MULTIPROC_DIR=/tmp/" in final_stage
    assert DOCKERFILE.count("\nFROM ") + DOCKERFILE.startswith("FROM ") >= 2  # multi-stage


def test_image_requirements_cover_every_import_of_the_service():
    wanted = {_normalize(re.split(r"[\[<>=]", line)[0]) for line in (APP / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    dists = packages_distributions()
    missing = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                if top == "app" or top in sys.stdlib_module_names:
                    continue
                if not {_normalize(d) for d in dists.get(top, [top])} & wanted:
                    missing.add(f"{top} ({path.name})")
    assert not missing, f"imported by the service but not in app/requirements.txt: {sorted(missing)}"


def _copied_sources() -> list[str]:
    return re.findall(r"^COPY (app/\S+) /srv/app/\S*$", DOCKERFILE, re.M)


def test_image_copies_every_service_module_and_nothing_else():
    globs = _copied_sources()
    assert globs, "no COPY of the service sources into /srv/app"
    root = APP.parent
    copied = {p for g in globs for p in root.glob(g)}
    sources = set(APP.rglob("*.py"))
    assert sources - copied == set(), f"service modules left out of the image: {sorted(sources - copied)}"
    assert all(p.suffix == ".py" for p in copied), f"non-source files copied: {sorted(copied)}"


def test_image_deletes_nothing_and_the_service_never_imports_loadline():
    assert not re.search(r"\brm\b", DOCKERFILE), "the image must be built from what it needs, not trimmed after"
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            assert not any(n.split(".")[0] == "loadline" for n in names), f"{path} imports loadline"
