"""Data: the data root, in-memory batched loaders, verified downloads and embedded datasets."""
