"""Storage: the data folder's layout, atomic writes, stage state, feature tables and cache."""
