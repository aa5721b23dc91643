"""The bundled events service: a small event catalogue on PostgreSQL with a Redis cache."""

__version__ = "0.1.0"
