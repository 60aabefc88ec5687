"""``load_run``: rebuild a trained model from its run folder, without running foreign code.

A checkpoint written by dllab's Trainer records the model's class (its module and qualified
name, see ``dllab.core.run_checkpoint``) beside Lightning's ``hyper_parameters`` and the
weights. ``load_run`` verifies the checkpoint's digest, loads it with ``weights_only=True``,
imports the class only if it is defined in an installed dllab package, calls it with the
saved hyperparameters and loads the weights::

    model = load_run("runs/core-mlp/version_3")
    model.predict(X)
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
from pathlib import Path
from typing import Any

import lightning as L

from dllab.core.checkpoint import (
    CheckpointError,
    check_state_dict,
    load_checkpoint,
    newest_valid_checkpoint,
)
from dllab.core.run_checkpoint import MODEL_CLASS_KEY

HPARAMS_KEY = L.LightningModule.CHECKPOINT_HYPER_PARAMS_KEY
_MODULE = re.compile(r"^dllab\.([a-z][a-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_QUALNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def load_run(run: str | os.PathLike[str], map_location: Any = "cpu") -> L.LightningModule:
    """Rebuild the trained model of a run folder (or of one checkpoint file), in eval mode.

    Args:
        run: a run folder written by dllab's Trainer (``runs/<name>/version_N``); its newest
            valid checkpoint is used. A ``.ckpt`` file is loaded as given.
        map_location: where the weights go (``torch.load``'s argument).

    Raises:
        FileNotFoundError: ``run`` does not exist.
        CheckpointError: the folder holds no usable checkpoint (not a training run), the
            checkpoint is damaged or does not fit its class, or it names a class outside the
            installed dllab packages.
    """
    run = Path(run)
    if not run.exists():
        raise FileNotFoundError(f"no run folder or checkpoint at {run}")
    if run.is_dir():
        if not (run / "checkpoints").is_dir():
            raise CheckpointError(
                f"{run} holds no checkpoints/ folder: load_run rebuilds models from training "
                "runs (folders written by dllab's Trainer), not from commands that do not train"
            )
        path = newest_valid_checkpoint(run)
    else:
        path = run
    checkpoint = load_checkpoint(
        path, map_location, required=("state_dict",), warn_if_unverified=True
    )
    cls = model_class(checkpoint.get(MODEL_CLASS_KEY), path)
    hparams = checkpoint.get(HPARAMS_KEY) or {}
    if not isinstance(hparams, dict) or not all(isinstance(k, str) for k in hparams):
        raise CheckpointError(f"checkpoint {path}: {HPARAMS_KEY!r} is not a dict of named values")
    try:
        model = cls(**hparams)
    except (TypeError, ValueError) as err:
        raise CheckpointError(
            f"checkpoint {path}: {cls.__name__}(**{hparams}) fails: {err} (does the class call "
            "save_hyperparameters() in __init__?)"
        ) from err
    model.on_load_checkpoint(checkpoint)
    check_state_dict(model, checkpoint["state_dict"], path)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def model_class(record: Any, path: str | os.PathLike[str] = "<checkpoint>") -> type:
    """Import the LightningModule class a checkpoint names, if an installed dllab package has it.

    Raises:
        CheckpointError: no record, or a class outside ``dllab.<domain>`` of an installed
            ``dllab-<domain>`` distribution, or not a LightningModule defined where it claims.
    """
    if record is None:
        raise CheckpointError(
            f"checkpoint {path} does not record its model class (written by another trainer "
            "or before dllab-core 0.2): load it with YourModel.load_from_checkpoint(path, "
            "weights_only=True)"
        )
    module = record.get("module") if isinstance(record, dict) else None
    qualname = record.get("qualname") if isinstance(record, dict) else None
    name = f"{module}.{qualname}"
    match = _MODULE.match(module) if isinstance(module, str) else None
    if match is None or not isinstance(qualname, str) or not _QUALNAME.match(qualname):
        raise CheckpointError(
            f"checkpoint {path} names the class {name!r}, which is not in a dllab package; "
            "load_run imports only classes of the installed dllab packages"
        )
    distribution = f"dllab-{match.group(1)}"
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise CheckpointError(
            f"checkpoint {path} needs {name!r}, from {distribution}, which is not installed"
        ) from None
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise CheckpointError(f"checkpoint {path}: class {name!r} not found ({err})") from None
    defined_there = (getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)) == (
        module,
        qualname,
    )
    if not (isinstance(obj, type) and issubclass(obj, L.LightningModule) and defined_there):
        raise CheckpointError(
            f"checkpoint {path} names {name!r}, which is not a model class defined in {module}"
        )
    return obj
