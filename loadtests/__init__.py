"""The Locust suite that proves a stack's targets (see docs/loadtest.md)."""
