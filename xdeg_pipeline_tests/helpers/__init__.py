"""Shared test helpers (collections, fault generators, servers): test modules import from here, never from each other."""
