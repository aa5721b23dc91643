"""Benchmarks: they measure the service and the tools from outside and never ship in the image."""
