"""Read a directory of Kubernetes YAML for `loadline check --manifests`.

Every problem names the file and the reason; nothing is evaluated from a directory that
could only be read in part, because a missing object would silently pass stack checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A directory, file or document that cannot be read as Kubernetes objects."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class Manifests:
    objects: list[dict[str, Any]] = field(default_factory=list)
    rule_files: list[dict[str, Any]] = field(default_factory=list)
    """Prometheus rule files (`groups:` documents) found among the manifests."""
    prometheus_configs: list[dict[str, Any]] = field(default_factory=list)
    """prometheus.yml documents (`scrape_configs:`) found among the manifests."""
    files: int = 0


def _add(out: Manifests, doc: Any, label: str, path: Path) -> None:
    """Add one document; `label` names it in errors ("document 2", "document 1 item 3")."""
    if not isinstance(doc, dict):
        raise ManifestError(path, f"{label} is a {type(doc).__name__}, not a Kubernetes object")
    kind = doc.get("kind")
    if kind is None:
        if isinstance(doc.get("groups"), list):
            out.rule_files.append(doc)
            return
        if isinstance(doc.get("scrape_configs"), list):
            out.prometheus_configs.append(doc)
            return
        if isinstance(doc.get("tests"), list) and "rule_files" in doc:
            return  # a promtool rule test file, as `loadline render` writes next to the rules
        if isinstance(doc.get("route"), dict) and isinstance(doc.get("receivers"), list):
            return  # an Alertmanager configuration, as `loadline render` writes next to the rules
        raise ManifestError(path, f"{label} has no kind")
    if not isinstance(kind, str) or not kind:
        raise ManifestError(path, f"{label} has a kind that is not a string")
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        for i, item in enumerate(doc["items"]):
            _add(out, item, f"{label} item {i + 1}", path)
        return
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise ManifestError(path, f"{label} ({kind}) has no metadata.name")
    out.objects.append(doc)


def load_manifests(directory: Path | str) -> Manifests:
    root = Path(directory)
    if not root.exists():
        raise ManifestError(root, "no such directory")
    if not root.is_dir():
        raise ManifestError(root, "is not a directory")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if not paths:
        raise ManifestError(root, f"holds no {', '.join(SUFFIXES)} files")
    out = Manifests(files=len(paths))
    for path in paths:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ManifestError(path, f"not valid YAML{at}: {problem}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(path, f"cannot be read: {exc}") from None
        for i, doc in enumerate(docs):
            _add(out, doc, f"document {i + 1}", path)
    return out
