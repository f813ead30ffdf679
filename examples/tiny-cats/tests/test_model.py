import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tiny_cats.config import NUM_BREEDS  # noqa: E402


def test_breeds_match_the_evaluation() -> None:
    report = json.loads((ROOT / "reports" / "evaluation.json").read_text())
    assert report["breeds"] == NUM_BREEDS


def test_accuracy_is_reported() -> None:
    report = json.loads((ROOT / "reports" / "evaluation.json").read_text())
    assert 0.0 <= report["accuracy"] <= 1.0
