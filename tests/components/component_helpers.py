"""Helpers for component tests: a recording Pulumi mock and profiles derived from the shipped stacks.

Components are built in-process under `pulumi.runtime.set_mocks`; `@pulumi.runtime.test`
waits for every registration, after which the recorded inputs are asserted on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks

from loadline.profile import Profile, read_stack_config, validate_profile
from loadline.render.values import clean
from tests.profile_patch import patched


@dataclass
class Registered:
    type_token: str
    name: str
    raw: dict[str, Any]
    """Inputs exactly as the engine received them (secret markers, floats)."""

    @property
    def props(self) -> dict[str, Any]:
        return clean(self.raw)


@dataclass
class Recorder(mocks.Mocks):
    registered: list[Registered] = field(default_factory=list)

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        self.registered.append(Registered(args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = "generated-by-mock-" + args.name
        return f"{args.name}-id", state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, None]:
        return {}, None

    def of_type(self, suffix: str) -> list[Registered]:
        return [r for r in self.registered if r.type_token.endswith(suffix)]

    def one(self, suffix: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(suffix) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {suffix} {name or ''}, got {[r.name for r in found]}"
        return found[0]

    def kinds(self) -> list[str]:
        return [r.props.get("kind", r.type_token) for r in self.registered if r.type_token.startswith("kubernetes:")]


def raw_profile(stack: str) -> dict[str, Any]:
    return copy.deepcopy(read_stack_config(stack)["loadline:profile"])


def make_profile(stack: str, patch: dict[str, Any] | None = None) -> Profile:
    """The shipped profile of `stack`, with `patch` deep-merged (None deletes a key)."""
    return validate_profile(stack, patched(raw_profile(stack), patch or {}))
