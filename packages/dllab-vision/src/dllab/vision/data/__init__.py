"""Image data: the shared in-memory base, rendered shapes (embedded) and CIFAR-10."""
