"""`python -m essh`: the same entry point as the `essh` console script."""

from essh.entry import main

main()
