"""A tiny stand-in for the tiny-cats model package."""
