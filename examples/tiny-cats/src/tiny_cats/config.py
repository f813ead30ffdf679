"""Model configuration."""

# The evaluation covers 13 breeds (ADR-019); this value is deliberately wrong
# so that the example's CI fails once and the planned fix (ci/fix.py) repairs it.
NUM_BREEDS = 12
IMAGE_SIZE = 128
