"""Training entry point (runs on Modal in the real project)."""

import argparse

from tiny_cats.config import IMAGE_SIZE, NUM_BREEDS


def smoke_test() -> str:
    """Return a one-line description of the configured model."""
    return f"TinyDiT {IMAGE_SIZE}px, {NUM_BREEDS} breeds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="check and exit")
    parser.add_argument("--steps", type=int, default=200_000)
    args = parser.parse_args()
    print(smoke_test(), "(dry run)" if args.dry_run else f"training {args.steps} steps")


if __name__ == "__main__":
    main()
