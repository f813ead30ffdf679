"""Compare JSON Schema validators on the engine's schemas and documents.

Candidates: jsonschema with its validator built once (``iter_errors``, what
the engine used for every document, and ``is_valid``), fastjsonschema (which
generates Python code from the schema), and jsonschema_rs (compiled Rust,
through ``goap_engine.schema_check``, which the engine now uses).  Each is
measured for its import time (``python -X importtime``, in a fresh
interpreter), the time to compile both schemas, and the time to check a
document: every YAML document of the repository (valid and invalid, as read by
``read_document``) and the 100 pack files of 10 actions that
``benchmarks/scaling.py`` generates for 1,000 actions, both with the YAML
reader's node types and converted to plain JSON types first.  It also counts
the documents on which a candidate's verdict differs from jsonschema's.

Run with ``.venv/bin/python benchmarks/schema_check.py``; results are also
written to ``benchmarks/results/schema_check.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common import revision
from scaling import generate

from goap_engine import documents
from goap_engine.documents import read_document
from goap_engine.schema_check import (
    fast_validators,
    plain_json,
    schema_documents,
    surely_valid,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "schema_check.json"
FOLDERS = ("tests/data", "examples", "goals.d", "engine/goap_engine/packs")
GENERATED_ACTIONS = 1_000
RUNS = 5
IMPORT_RUNS = 5

Check = Callable[[Any, str], bool]
Sample = list[tuple[Any, str]]


@dataclass(frozen=True)
class Row:
    """One candidate: start-up costs, per-document times and disagreements."""

    name: str
    module: str
    import_ms: float
    compile_ms: float
    repo_us: float
    generated_us: float
    generated_plain_us: float
    differ: int


def _median_time(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def import_ms(module: str, runs: int) -> float:
    """Return the median cumulative import time of ``module`` in a new interpreter."""
    samples = []
    for _ in range(runs):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        last = [line for line in err.splitlines() if line.startswith("import time:")]
        samples.append(int(last[-1].split("|")[1]) / 1000)
    return statistics.median(samples)


def schema_for(data: Any) -> str:
    """Return the schema the loader checks a top-level file with."""
    return "goal" if isinstance(data, dict) and "goal" in data else "pack"


def repository_sample() -> Sample:
    sample = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                doc, _ = read_document(path)
                if doc is not None:
                    sample.append((doc.data, schema_for(doc.data)))
    return sample


def generated_sample(folder: Path) -> Sample:
    generate(folder, GENERATED_ACTIONS)
    sample = []
    for path in sorted((folder / "packs.d").glob("*.yaml")):
        doc, _ = read_document(path)
        assert doc is not None
        sample.append((doc.data, "pack"))
    return sample


def _jsonschema_validators() -> tuple[dict[str, Any], float]:
    import jsonschema  # noqa: F401  (its import is measured on its own)

    documents._validator.cache_clear()
    start = time.perf_counter()
    validators = {name: documents._validator(name) for name in ("pack", "goal")}
    return validators, time.perf_counter() - start


def jsonschema_walk() -> tuple[Check, float]:
    validators, elapsed = _jsonschema_validators()

    def check(data: Any, name: str) -> bool:
        return not any(True for _ in validators[name].iter_errors(data))

    return check, elapsed


def jsonschema_is_valid() -> tuple[Check, float]:
    validators, elapsed = _jsonschema_validators()
    return (lambda data, name: validators[name].is_valid(data)), elapsed


def fastjsonschema_compiled() -> tuple[Check, float]:
    import fastjsonschema

    schemas = schema_documents()
    by_id = {schema["$id"]: schema for schema in schemas.values()}
    start = time.perf_counter()
    # The handler serves the $ref'd schema from memory instead of the network.
    compiled = {
        name: fastjsonschema.compile(schema, handlers={"https": by_id.__getitem__})
        for name, schema in schemas.items()
    }
    elapsed = time.perf_counter() - start

    def check(data: Any, name: str) -> bool:
        try:
            compiled[name](data)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check, elapsed


def jsonschema_rs_compiled() -> tuple[Check, float]:
    start = time.perf_counter()
    fast_validators.cache_clear()
    fast_validators()
    return surely_valid, time.perf_counter() - start


CANDIDATES: dict[str, tuple[str, Callable[[], tuple[Check, float]]]] = {
    "jsonschema iter_errors (before)": ("jsonschema", jsonschema_walk),
    "jsonschema is_valid": ("jsonschema", jsonschema_is_valid),
    "fastjsonschema": ("fastjsonschema", fastjsonschema_compiled),
    "jsonschema_rs (chosen)": ("jsonschema_rs", jsonschema_rs_compiled),
}


def measure(
    name: str, module: str, build: Callable[[], tuple[Check, float]], samples: Any
) -> Row:
    repo, generated, plain = samples
    check, compile_s = build()
    reference, _ = jsonschema_walk()

    def per_doc(sample: Sample) -> float:
        total = _median_time(lambda: [check(d, s) for d, s in sample], RUNS)
        return total / len(sample) * 1e6

    differ = sum(
        check(data, schema) != reference(data, schema)
        for data, schema in repo + generated
    )
    return Row(
        name=name,
        module=module,
        import_ms=import_ms(module, IMPORT_RUNS),
        compile_ms=compile_s * 1000,
        repo_us=per_doc(repo),
        generated_us=per_doc(generated),
        generated_plain_us=per_doc(plain),
        differ=differ,
    )


def table(rows: Sequence[Row], repo: int, generated: int) -> str:
    lines = [
        f"| validator | import | compile both | per document, repository ({repo}) "
        f"| per pack, generated ({generated}), reader's nodes | same, plain JSON "
        "| differ from jsonschema |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.import_ms:.0f} ms | {r.compile_ms:.1f} ms "
            f"| {r.repo_us:,.0f} µs | {r.generated_us:,.0f} µs "
            f"| {r.generated_plain_us:,.0f} µs | {r.differ} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-save", action="store_true", help="do not write JSON")
    args = parser.parse_args(argv)
    repo = repository_sample()
    with tempfile.TemporaryDirectory() as tmp:
        generated = generated_sample(Path(tmp))
    plain = [(plain_json(data), schema) for data, schema in generated]
    rows = [
        measure(name, module, build, (repo, generated, plain))
        for name, (module, build) in CANDIDATES.items()
    ]
    print(table(rows, len(repo), len(generated)))
    if not args.no_save:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "revision": revision(),
                    "python": platform.python_version(),
                    "machine": platform.machine(),
                    "repository_documents": len(repo),
                    "generated_packs": len(generated),
                    "rows": [asdict(r) for r in rows],
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
