"""The state file a run rewrites after every step: atomic, and cheap to redo.

Written after every step, so its cost grows with the number of variables and
facts times the number of steps.  Each fact's origin is encoded once and kept
until it changes, and a large source fingerprint (a dataset folder as
``sources:``) lives in a file of its own, named by its content, which the state
file refers to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ExecutionError
from ..model import Ruleset
from ..store import atomic_write, state_text
from .redaction import Redactor
from .workspace import sources_dir

# Source fingerprints with more files than this live in a file of their own.
INLINE_FILES = 100


def storable(
    ruleset: Ruleset, values: Mapping[str, Any], redact: Redactor
) -> tuple[dict[str, Any], list[str]]:
    """Return the values a state file may hold, and the names held back.

    Secret variables are never stored; another variable whose value holds a
    secret is held back (and named), since its redacted text is not its value.
    """
    kept = ruleset.stored(values)
    withheld = [
        name
        for name, value in kept.items()
        if isinstance(value, str) and redact.contains(value)
    ]
    for name in withheld:
        del kept[name]
    return kept, withheld


class StateWriter:
    """Write one run's state file."""

    def __init__(self, ruleset: Ruleset, path: Path, redact: Redactor) -> None:
        self.ruleset = ruleset
        self.path = path
        self.redact = redact
        self._origins: dict[str, tuple[dict[str, Any], str]] = {}
        self._fingerprints: dict[int, tuple[dict[str, Any], str]] = {}

    def write(self, data: Mapping[str, Any], origins: Mapping[str, Any]) -> list[str]:
        """Replace the state file with ``data`` and the recorded ``origins``.

        Secret variables are left out, and so is any other value holding a
        secret: stored redacted it would come back wrong, so it is not stored
        at all.  Returns the names of the latter.  A full disk or a folder
        that cannot be written stops the run with a message naming the file;
        the old file stays as it was.
        """
        values, withheld = storable(self.ruleset, data.get("state", {}), self.redact)
        data = self.redact.data({**data, "state": values})
        kept = {n: o for n, o in origins.items() if n in values}
        try:
            text = state_text(data, {"origins": self.origins(kept)})
            atomic_write(self.path, text)
        except OSError as exc:
            where = exc.filename or self.path
            raise ExecutionError(
                f"cannot write the state file {where}: {exc.strerror or exc}"
            ) from None
        except ValueError as exc:
            # The last line of defence: NaN is refused before it gets here.
            raise ExecutionError(
                f"cannot write the state file {self.path}: {exc}"
            ) from None
        return withheld

    def origins(self, origins: Mapping[str, Any]) -> str:
        """Return the recorded origins as JSON, defaults left out.

        An origin changes only when its variable does, so each one's text is
        kept (by the identity of the origin, which is replaced, never edited)
        until then.
        """
        parts = []
        for name, origin in origins.items():
            if origin.get("kind") == "default":
                continue
            known = self._origins.get(name)
            if known is None or known[0] is not origin:
                encoded = json.dumps(
                    self.by_reference(origin), default=str, separators=(",", ":")
                )
                known = (origin, f"{json.dumps(name)}:{self.redact(encoded)}")
                self._origins[name] = known
            parts.append(known[1])
        return "{" + ",".join(parts) + "}"

    def by_reference(self, origin: dict[str, Any]) -> dict[str, Any]:
        """Return ``origin`` with a large source fingerprint kept in a file."""
        sources = origin.get("sources")
        files = sources.get("files") if isinstance(sources, dict) else None
        if not isinstance(files, dict) or len(files) <= INLINE_FILES:
            return origin
        assert isinstance(sources, dict)
        known = self._fingerprints.get(id(files))
        if known is None or known[0] is not files:
            text = json.dumps(files, sort_keys=True, separators=(",", ":"))
            name = hashlib.sha256(text.encode()).hexdigest()[:32] + ".json"
            path = sources_dir(self.ruleset) / name
            if not path.exists():
                atomic_write(path, text)
            known = (files, name)
            self._fingerprints[id(files)] = known
        kept = {k: v for k, v in sources.items() if k != "files"}
        return {**origin, "sources": {**kept, "files_at": known[1]}}
