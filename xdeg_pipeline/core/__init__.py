"""Algorithms of xdeg. Nothing in this package imports Dagster."""
