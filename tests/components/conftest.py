"""Fixtures: Pulumi mocks installed before any component is built."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from component_helpers import Recorder


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    # Pulumi's runtime needs a current event loop; tests that ran earlier (ASGI clients)
    # may have closed or unset theirs, so each component test gets its own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    rec = Recorder()
    pulumi.runtime.set_mocks(rec, project="loadline", stack="test", preview=False)
    yield rec
    asyncio.set_event_loop(None)
    loop.close()


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
