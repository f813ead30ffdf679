"""Measure how fast YAML files are read into positioned documents.

Two sets of files: the seed goal with the packs it uses
(``goals.d/production.yaml`` and ``actions.d/*.yaml``), and the 100 pack files
of 10 actions each that ``scaling.py`` generates for 1,000 actions.  Each set
is read with the engine's reader (libyaml through PyYAML's C composer, then
plain values and a table of positions) and, as the baseline, with
ruamel.yaml's round-trip loader that the engine used before.  Only the parse
is timed: the files are read into memory first.

Run with ``.venv/bin/python benchmarks/yaml_reading.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML
from scaling import generate

from goap_engine.yaml_reader import parse

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7


def _ruamel(text: str) -> object:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml.load(text)


def _median_ms(read: Callable[[str], object], texts: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for text in texts:
            read(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _report(name: str, texts: list[str]) -> None:
    new = _median_ms(parse, texts)
    old = _median_ms(_ruamel, texts)
    size = sum(len(t) for t in texts) / 1024
    print(
        f"{name}: {len(texts)} files, {size:.0f} KiB: libyaml reader {new:.1f} ms, "
        f"ruamel.yaml {old:.1f} ms ({old / new:.1f}x)"
    )


def main() -> None:
    seed = [
        ROOT / "goals.d" / "production.yaml",
        *sorted((ROOT / "actions.d").glob("*.yaml")),
    ]
    _report("seed goal and packs", [p.read_text("utf-8") for p in seed])
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), 1000)
        packs = sorted((Path(tmp) / "packs.d").glob("*.yaml"))
        _report("generated packs", [p.read_text("utf-8") for p in packs])


if __name__ == "__main__":
    main()
