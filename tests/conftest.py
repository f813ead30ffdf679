from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def write(tmp_path: Path):
    """Write a YAML file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write


@pytest.fixture(autouse=True)
def ruleset_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Path:
    """Give every test its own cache: none reads another's or the user's."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("GOAP_CACHE_DIR", str(folder))
    return folder
