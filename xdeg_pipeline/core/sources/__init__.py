"""Sources: the ways a collection arrives (the embedded OpenMoji set, URL manifests)."""
