"""teahouse: a self-hosted chat server that stays up under abuse."""

__version__ = "0.1.0"
