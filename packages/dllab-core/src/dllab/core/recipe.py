"""The training recipe behind ``Module.configure_optimizers``: parameter groups and schedules.

- ``param_groups``: one group, or two where norms and biases are exempt from weight decay
  (parameters with ``ndim <= 1`` and those of normalization layers), as in most modern
  recipes (Goyal et al., 2017; Loshchilov & Hutter, 2019).
- ``make_scheduler``: a per-step learning-rate schedule from ``torch.optim.lr_scheduler``:
  ``"onecycle"`` (Smith & Topin, 2018) or ``"cosine"`` with a linear warm-up
  (Loshchilov & Hutter, 2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

from dllab.core.checks import check_float, check_int, check_positive_int

SCHEDULES = ("none", "onecycle", "cosine")

NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
)


def param_groups(
    model: nn.Module, weight_decay: float, decay_norm_and_bias: bool = True
) -> list[dict[str, Any]]:
    """The optimizer's parameter groups for ``model``.

    Args:
        model: the model whose parameters are optimized (each shared parameter once).
        weight_decay: the decay of the decayed group, must be >= 0.
        decay_norm_and_bias: ``False`` puts biases, norm-layer parameters and every other
            parameter with ``ndim <= 1`` in a second group with ``weight_decay=0``.

    Returns:
        ``[{"params": ..., "weight_decay": ...}, ...]``, in ``model.parameters()`` order, with
        no empty group.
    """
    weight_decay = check_float(weight_decay, "weight_decay", min=0.0)
    params = list(model.parameters())
    if decay_norm_and_bias or weight_decay == 0.0:
        return [{"params": params, "weight_decay": weight_decay}]
    in_norm_layers = {
        id(p)
        for layer in model.modules()
        if isinstance(layer, NORM_LAYERS)
        for p in layer.parameters(recurse=False)
    }
    decay = [p for p in params if p.ndim > 1 and id(p) not in in_norm_layers]
    exempt = [p for p in params if p.ndim <= 1 or id(p) in in_norm_layers]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": exempt, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]


@dataclass(frozen=True)
class WarmupCosine:
    """The learning-rate factor of ``"cosine"``: a linear warm-up, then a cosine decay to 0.

    Step ``s < warmup_steps`` gets ``(s + 1) / (warmup_steps + 1)`` (no step at 0), step
    ``warmup_steps`` gets 1, and the factor falls as ``(1 + cos(pi * progress)) / 2`` to 0 at
    ``total_steps``. A callable object rather than a lambda, so ``LambdaLR`` checkpoints it.
    """

    warmup_steps: int
    total_steps: int

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def warmup_steps_of(total_steps: int, steps: int = 0, fraction: float = 0.0) -> int:
    """The warm-up length in steps: ``steps``, or ``fraction`` of ``total_steps`` (rounded)."""
    steps = check_int(steps, "warmup_steps", min=0)
    fraction = check_float(fraction, "warmup_fraction", min=0.0, max=1.0, max_open=True)
    warmup = steps or round(fraction * total_steps)
    if warmup >= total_steps:
        raise ValueError(
            f"the warm-up ({warmup} steps) must be shorter than the run ({total_steps} steps): "
            "lower warmup_steps/warmup_fraction or train longer"
        )
    return warmup


def make_scheduler(
    name: str, optimizer: Optimizer, total_steps: int, warmup_steps: int = 0
) -> LRScheduler | None:
    """A schedule stepped once per optimizer step, or ``None`` for ``name="none"``.

    Args:
        name: ``"none"``, ``"onecycle"`` (``OneCycleLR`` peaking at each group's current lr
            after ``warmup_steps`` (at least 2), or after 30% of the steps if 0; learning rate only:
            momentum is left as set) or ``"cosine"`` (``LambdaLR`` over ``WarmupCosine``).
        optimizer: the optimizer; each group's current ``lr`` is the peak.
        total_steps: the number of optimizer steps of the run.
        warmup_steps: steps up to the peak (``"onecycle"``: cosine warm-up, ``"cosine"``:
            linear); must be 0 for ``"none"``.
    """
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {name!r}")
    if name == "none":
        if warmup_steps:
            raise ValueError("warmup_steps needs a schedule: 'onecycle' or 'cosine'")
        return None
    total_steps = check_positive_int(total_steps, "total_steps")
    warmup_steps = check_int(warmup_steps, "warmup_steps", min=0, max=total_steps - 1)
    if name == "onecycle":
        peaks = [group["lr"] for group in optimizer.param_groups]
        # OneCycleLR's default warm-up is 30% of the run; a warm-up of one step divides by zero
        # there, so it takes 2 (warmup_steps < total_steps, hence 2 <= total_steps)
        pct_start = max(warmup_steps, 2) / total_steps if warmup_steps else 0.3
        return OneCycleLR(
            optimizer,
            max_lr=peaks,
            total_steps=total_steps,
            pct_start=pct_start,
            cycle_momentum=False,
        )
    return LambdaLR(optimizer, WarmupCosine(warmup_steps, total_steps))


def forget_run_length(state: dict[str, Any]) -> dict[str, Any]:
    """Drop the run's length from a checkpointed ``make_scheduler`` state, in place.

    Loaded into a schedule built for a longer run (resumed with more epochs), the state then
    restores the step count but keeps the new length: the schedule stretches over the whole
    run instead of stepping past its end, which ``OneCycleLR`` refuses (the first resumed
    step keeps the learning rate the optimizer was saved with). A run resumed with its own
    length gets the same state either way.
    """
    state.pop("total_steps", None)  # OneCycleLR
    state.pop("_schedule_phases", None)  # OneCycleLR's phase ends, computed from total_steps
    if "lr_lambdas" in state:  # LambdaLR: WarmupCosine's warm-up and total steps
        state["lr_lambdas"] = [None] * len(state["lr_lambdas"])
    return state
