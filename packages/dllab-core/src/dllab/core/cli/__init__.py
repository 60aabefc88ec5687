"""The ``dllab`` command line: the root app, shared options and core commands."""
