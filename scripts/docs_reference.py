"""Reference tables generated from the models: the profile (docs/profile.md) and the
service's EVENTS_* settings (docs/settings.md). `make docs` rewrites them; a test fails
when either page is out of date.

Only the part between the GENERATED markers is rewritten; the prose around it is kept.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.settings import Settings  # noqa: E402
from loadline.profile import Profile  # noqa: E402

PAGES = {"profile": ROOT / "docs" / "profile.md", "settings": ROOT / "docs" / "settings.md"}


def begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name}: `make docs` rewrites this table from the model -->"


def end(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def _models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models(a)]


def _type(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [_type(a) for a in typing.get_args(annotation) if a is not type(None)]
        optional = type(None) in typing.get_args(annotation)
        return " \\| ".join(parts) + (" (optional)" if optional else "")
    if origin is typing.Annotated:
        return _type(typing.get_args(annotation)[0])
    if origin in (list, tuple):
        return f"list of {_type(typing.get_args(annotation)[0])}"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


_BOUNDS = ((annotated_types.Ge, "ge", "≥"), (annotated_types.Gt, "gt", ">"),
           (annotated_types.Le, "le", "≤"), (annotated_types.Lt, "lt", "<"),
           (annotated_types.MinLen, "min_length", "length ≥"),
           (annotated_types.MaxLen, "max_length", "length ≤"))


def _bounds(field: FieldInfo) -> str:
    out = []
    for meta in field.metadata:
        for cls, attr, symbol in _BOUNDS:
            if isinstance(meta, cls):
                value = getattr(meta, attr)
                out.append(f"{symbol} {value:g}" if isinstance(value, float) else f"{symbol} {value}")
        pattern = getattr(meta, "pattern", None)
        if pattern:
            out.append(f"matches `{pattern}`")
    return ", ".join(out)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is None or value is PydanticUndefined:
        return "(unset)"
    if isinstance(value, BaseModel):
        return "(the defaults below)"
    if isinstance(value, list):
        return f"`{','.join(map(str, value))}`" if value else "(empty)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def profile_rows(model: type[BaseModel] = Profile, prefix: str = "") -> list[tuple[str, ...]]:
    rows = []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        rows.append((f"`{key}`", _type(field.annotation), _default(field), _bounds(field),
                     _cell(field.description or "")))
        for sub in _models(field.annotation):
            rows += profile_rows(sub, key + ".")
    return rows


def settings_rows() -> list[tuple[str, ...]]:
    prefix = Settings.model_config.get("env_prefix", "")
    rows = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias.choices[0] if alias is not None else f"{prefix}{name}".upper()
        rows.append((f"`{variable}`", _type(field.annotation), _default(field), _bounds(field),
                     _cell(field.description or "")))
    return rows


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


TABLES = {
    "profile": lambda: table(("key", "type", "default", "bounds", "description"), profile_rows()),
    "settings": lambda: table(("variable", "type", "default", "bounds", "description"), settings_rows()),
}


def render(name: str, text: str) -> str:
    """`text` with the generated table `name` replaced (appended, with its markers, if absent)."""
    block = f"{begin(name)}\n{TABLES[name]()}\n{end(name)}"
    if begin(name) in text and end(name) in text:
        head, rest = text.split(begin(name), 1)
        _, tail = rest.split(end(name), 1)
        return head + block + tail
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, path in PAGES.items():
        text = path.read_text()
        new = render(name, text)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new)
    if check and stale:
        print(f"out of date: {', '.join(str(p.relative_to(ROOT)) for p in stale)}; run `make docs`",
              file=sys.stderr)
        return 1
    for path in stale:
        print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
