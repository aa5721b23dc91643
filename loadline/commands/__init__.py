"""One module per `loadline` command group; each exposes `register(app)`."""
