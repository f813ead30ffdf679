"""The planned fix for this example's red CI: set NUM_BREEDS to the evaluated 13."""

from pathlib import Path

config = Path(__file__).resolve().parents[1] / "src" / "tiny_cats" / "config.py"
text = config.read_text()
config.write_text(text.replace("NUM_BREEDS = 12", "NUM_BREEDS = 13"))
print("set NUM_BREEDS = 13 in src/tiny_cats/config.py")
