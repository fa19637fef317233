"""Graph building: PCA, kNN, near-duplicates, distinct exits and the similarity graph."""
