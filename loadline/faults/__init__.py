"""Faults the gate injects while the load runs: the spec grammar and the injectors."""
