"""Errors about plan files, split by what is wrong with the file.

Each message is one line that names the problem; the CLI prints it and exits 2.
"""


class PlanFileError(Exception):
    """A plan file cannot be used."""


class NotAPlanFile(PlanFileError):
    """The file is not an essh plan at all (wrong magic)."""


class PlanFileDamaged(PlanFileError):
    """The file was truncated, corrupted or edited after it was written."""


class UnsupportedPlanVersion(PlanFileError):
    """The file was written by an essh whose plan format this one cannot read."""


class PlanFileInvalid(PlanFileError):
    """The file is intact but its contents do not form a valid plan."""
