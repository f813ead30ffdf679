"""Run the command line: ``python -m goap_engine``."""

from goap_engine.cli import run

run()
