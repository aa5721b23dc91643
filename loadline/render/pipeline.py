"""`loadline render`'s work, ordered so that the slow parts overlap.

The program runs in its own process for most of a render's wall time. It starts first;
while it runs, this process reads the validation libraries (jsonschema and the Kubernetes
schemas), and promtool checks and tests the rules the profile implies (`EarlyPromtool`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from loadline.profile import STACKS_DIR, load_profile
from loadline.render import RenderResult, start_render

if TYPE_CHECKING:
    from loadline.render.validate import Problem


def render_and_validate(stack: str, *, stacks_dir: Path = STACKS_DIR,
                        validate_output: bool = True) -> tuple[RenderResult, list[Problem]]:
    """The render and, unless told not to, its problems.

    Raises ProfileError or RenderError when the stack cannot be rendered at all.
    """
    profile = load_profile(stack, stacks_dir)
    with start_render(stack, stacks_dir=stacks_dir, profile=profile) as pending:
        if not validate_output:
            return pending.result(), []
        # Imported here, not above: the schema libraries load while the program runs.
        from loadline.render.validate import EarlyPromtool, validate, warm_schemas

        early = EarlyPromtool(profile)
        threading.Thread(target=warm_schemas, args=(profile.kubernetes_version,), daemon=True).start()
        result = pending.result()
    return result, validate(result, early)
