"""`python -m essh`: the same entry point as the `essh` console script."""

from essh.cli import main

main()
