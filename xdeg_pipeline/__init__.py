"""xdeg: X degrees of separation between images, as a Dagster project."""

__version__ = "0.1.0"
