"""The pipeline's stages, Dagster-free: each a :class:`xdeg_pipeline.core.stage.Stage` run by
the one :class:`xdeg_pipeline.core.stage.StageRunner` (lock, fingerprints, atomic outputs,
state, timing)."""
