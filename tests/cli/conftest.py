"""`loadline env` runs against the review-environment fixtures: a private state dir, stacks/ copy and fake pulumi."""

from envs.conftest import deployable, fake_cli, home  # noqa: F401  (fixtures shared with tests/envs)
