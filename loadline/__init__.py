"""loadline: the profile every layer stands on, and the libraries the `loadline` command line (loadline.cli) drives."""

__version__ = "0.1.0"
