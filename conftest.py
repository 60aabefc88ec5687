"""Workspace-wide pytest setup.

Under ``pytest -n`` several workers share the machine's cores; each torch process would
otherwise start one thread per core and they would thrash (a small MLP step ran ~35x slower
with two 2-thread workers on 2 cores). Each xdist worker therefore runs torch on one thread.
"""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import sys

        if "torch" in sys.modules:  # imported before this file by a plugin
            sys.modules["torch"].set_num_threads(1)
