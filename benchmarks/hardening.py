"""Measure what safety costs: quoting a command's values, redacting output.

* ``prepare``: rendering one hook's command with its values quoted for the
  shell context each stands in (bare, ``"..."``, ``'...'``), as every step and
  every sensor reading does; argv for comparison.
* redaction: 10 MiB of hook output with 30 declared secrets, through the same
  path a step's output takes (cut into lines, redacted, tailed), and one call
  on the whole text; a tenth of the lines hold a secret in some encoding.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time
from pathlib import Path

from common import revision

from goap_engine.executor.hooks import prepare
from goap_engine.executor.output import Output
from goap_engine.executor.redaction import Redactor
from goap_engine.model import Hook

ROUNDS = 2000
HOSTILE = "$(touch pwned) `id` \"'; rm -rf x; '\" \\ \n"


def best_us(fn: object, rounds: int = ROUNDS, repeat: int = 5) -> float:
    """Return the best mean time of one call of ``fn`` over ``repeat`` tries."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        for _ in range(rounds):
            fn()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - began) / rounds)
    return round(best * 1e6, 1)


def rendering() -> dict[str, float]:
    context = {"name": HOSTILE, "msg": HOSTILE, "n": 3, "vars": {}, "env": {}}
    hooks = {
        "shell, one bare value": Hook("shell", "echo {{ name }}"),
        "shell, three values in quotes": Hook(
            "shell", "git commit -m \"{{ msg }}: {{ name }}\" && echo '{{ name }}'"
        ),
        "shell, a number in $(( ))": Hook("shell", "echo $(( {{ n }} * 2 ))"),
        "argv, two values": Hook("argv", ("echo", "{{ name }}", "{{ msg }}")),
    }
    return {name: best_us(lambda h=h: prepare(h, context)) for name, h in hooks.items()}


def output_text(secrets: list[str], size: int) -> str:
    rng = random.Random(7)
    lines = []
    total = 0
    while total < size:
        words = " ".join(
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9)))
            for _ in range(12)
        )
        if rng.random() < 0.1:
            secret = rng.choice(secrets)
            form = rng.choice(
                [
                    secret,
                    base64.b64encode(secret.encode()).decode(),
                    secret.encode().hex(),
                ]
            )
            words += " " + form
        lines.append(words)
        total += len(words) + 1
    return "\n".join(lines) + "\n"


def redaction() -> dict[str, float]:
    rng = random.Random(3)
    secrets = [
        "".join(rng.choices(string.ascii_letters + string.digits, k=24))
        for _ in range(30)
    ]
    text = output_text(secrets, 10 * 1024 * 1024)
    data = text.encode()
    redact = Redactor(secrets)

    began = time.perf_counter()
    whole = redact(text)
    one_call = time.perf_counter() - began
    assert not any(s in whole for s in secrets)

    began = time.perf_counter()
    sink = Output(redact)
    for start in range(0, len(data), 65536):
        sink.feed(data[start : start + 65536])
    sink.close()
    streamed = time.perf_counter() - began
    return {
        "megabytes": round(len(data) / 1e6, 1),
        "secrets": len(secrets),
        "needles": len(redact.needles),
        "one call on the whole text (s)": round(one_call, 3),
        "through a step's output path (s)": round(streamed, 3),
        "output path MB/s": round(len(data) / 1e6 / streamed, 1),
    }


def main() -> None:
    """Print the numbers and write benchmarks/results/hardening.json."""
    rows = {"revision": revision(), "prepare_us": rendering(), "redaction": redaction()}
    print("| hook | prepare (µs, best of 5 × 2000) |")
    print("|---|---|")
    for name, us in rows["prepare_us"].items():  # type: ignore[union-attr]
        print(f"| {name} | {us} |")
    print()
    for name, value in rows["redaction"].items():  # type: ignore[union-attr]
        print(f"- {name}: {value}")
    out = Path(__file__).parent / "results" / "hardening.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
