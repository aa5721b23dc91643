"""What every layer shares and that costs nothing to import: where things are, the kinds of
environment, the profile's key. The typed profile itself is `loadline.profile`.

Kept free of third-party imports so that `loadline --help` and option parsing stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = REPO_ROOT / "stacks"
PROFILE_KEY = "loadline:profile"

Environment = Literal["dev", "staging", "prod", "review", "local"]
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
