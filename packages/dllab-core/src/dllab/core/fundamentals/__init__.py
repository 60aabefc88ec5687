"""Fundamentals: regression, softmax, MLP and dropout, from scratch and concise."""
