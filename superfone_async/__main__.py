"""``python -m superfone_async`` runs the ``superfone-async`` command line."""

from ._cli import main

main()
