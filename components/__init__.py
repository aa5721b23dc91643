"""Pulumi ComponentResources, one per module, wired together by `environment.Environment`."""
