"""dllab.parallel: data sharding, all-reduce from scratch and data-parallel training.

The public names load lazily on first access, so ``import dllab.parallel`` and
``dllab --help`` do not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dllab.parallel.allreduce import library_all_reduce, naive_all_reduce, ring_all_reduce
    from dllab.parallel.launch import WorkerError, free_port, run_workers
    from dllab.parallel.sharding import distributed_loader, shard_bounds, split_batch

_LAZY = {
    "library_all_reduce": "dllab.parallel.allreduce",
    "naive_all_reduce": "dllab.parallel.allreduce",
    "ring_all_reduce": "dllab.parallel.allreduce",
    "WorkerError": "dllab.parallel.launch",
    "free_port": "dllab.parallel.launch",
    "run_workers": "dllab.parallel.launch",
    "distributed_loader": "dllab.parallel.sharding",
    "shard_bounds": "dllab.parallel.sharding",
    "split_batch": "dllab.parallel.sharding",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, eager=("__version__",))
