"""``python -m lofty_async`` runs the ``lofty-async`` command line."""

from ._cli import main

main()
