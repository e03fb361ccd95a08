"""``python -m analytics.cli``: the same as the ``urbanlens`` command."""

from analytics.cli import main

__all__: list[str] = []

main()
