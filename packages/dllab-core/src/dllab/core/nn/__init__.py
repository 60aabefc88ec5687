"""Neural-network building blocks: attention and Transformers."""
