"""Fixtures: Pulumi mocks installed before any component is built."""

from __future__ import annotations

from typing import Any, Callable

import pulumi
import pytest
from component_helpers import Recorder


@pytest.fixture
def recorder() -> Recorder:
    rec = Recorder()
    pulumi.runtime.set_mocks(rec, project="loadline", stack="test", preview=False)
    return rec


@pytest.fixture
def build(recorder: Recorder) -> Callable[[Callable[[], Any]], Recorder]:
    """build(lambda: Component(...)) -> the recorder, after every registration finished."""

    def run(make: Callable[[], Any]) -> Recorder:
        recorder.registered.clear()

        @pulumi.runtime.test
        def program() -> None:
            make()

        program()
        return recorder

    return run
