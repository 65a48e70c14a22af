"""Command modules of the ``ladasearch`` CLI; each exposes ``register(subparsers)``."""
