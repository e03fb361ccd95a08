"""``python -m analytics.cli``: the same as the ``urbanlens`` command."""

from analytics.cli import main

main()
