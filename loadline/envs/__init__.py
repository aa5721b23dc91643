"""Short-lived review environments: names, TTLs, config from the review template, a local
registry of what exists, expiry selection, preflight checks and the Automation API driver.
Everything but `driver` and `gate` is pure and runs without Pulumi or a cluster."""
