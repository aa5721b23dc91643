"""The load gate: run a Locust suite against a stack and judge it against the stack's targets."""
