"""The pipeline's stages, Dagster-free: each a :class:`~.runner.Stage` run by the one
:class:`~.runner.StageRunner` (lock, fingerprints, atomic outputs, state, timing)."""
