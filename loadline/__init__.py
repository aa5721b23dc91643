"""loadline: the operator command line for the events platform."""

__version__ = "0.1.0"
