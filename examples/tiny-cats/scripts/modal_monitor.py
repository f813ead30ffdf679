"""Print the status of Modal training jobs."""


def status() -> str:
    """Return the monitor's status line."""
    return "no jobs"
