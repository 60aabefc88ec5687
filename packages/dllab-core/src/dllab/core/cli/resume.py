"""The resume rule of training commands: what a resumed run may change.

``--resume`` continues a run; it must train the same model on the same data with the same
optimizer, or its weights, optimizer state and records would disagree. So every option but
those in ``RESUMABLE`` must equal the resumed run's (read from its hparams.yaml), and the
model's hyperparameters must equal those saved in the checkpoint; otherwise the command stops
with one line naming each option and both values. ``--epochs`` may grow (training is
extended); the others say where and how to run, not what.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import typer

RESUMABLE = frozenset(
    {"epochs", "runs_dir", "resume", "data_dir", "download", "accelerator", "devices", "quick"}
)
"""Options a resumed run may change (by their parameter names)."""


def check_same_options(
    resumed: Path, options: Mapping[str, Any], resumable: Iterable[str] = RESUMABLE
) -> None:
    """Raise ``typer.BadParameter`` naming every option that differs from the resumed run's.

    Args:
        resumed: the resumed run's folder (its hparams.yaml holds its ``options``).
        options: this run's options, as plain values (see ``plain``).
        resumable: the options that may differ.
    """
    resumable = frozenset(resumable)
    recorded = recorded_options(resumed / "hparams.yaml")
    if recorded is None:
        raise typer.BadParameter(
            f"{resumed}/hparams.yaml records no options to check this run against; start a new run",
            param_hint="--resume",
        )
    keys = sorted((set(recorded) | set(options)) - resumable)
    changed = [k for k in keys if recorded.get(k) != options.get(k)]
    if not changed:
        return
    what = "; ".join(
        f"{flag(k)} was {json.dumps(recorded.get(k))}, now {json.dumps(options.get(k))}"
        for k in changed
    )
    allowed = ", ".join(flag(k) for k in sorted(resumable - {"resume"}))
    raise typer.BadParameter(
        f"{what} (resumed run {resumed}): a resumed run keeps its model, data and "
        f"optimizer settings, only {allowed} may change; start a new run without --resume",
        param_hint="/".join(flag(k) for k in changed),
    )


def same_hyperparameters() -> Any:
    """A callback that refuses a checkpoint whose saved hyperparameters differ from the model's."""
    from lightning.pytorch.callbacks import Callback

    class SameHyperparameters(Callback):
        """Refuse a checkpoint whose saved hyperparameters differ from the model's."""

        def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict) -> None:
            saved = plain(dict(checkpoint.get("hyper_parameters") or {}))
            now = plain(dict(getattr(pl_module, "hparams", {}) or {}))
            if not saved:
                return
            changed = [k for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
            if changed:
                what = "; ".join(
                    f"{k} was {json.dumps(saved.get(k))}, now {json.dumps(now.get(k))}"
                    for k in changed
                )
                raise typer.BadParameter(
                    f"the model's hyperparameters differ from the checkpoint's: {what}; "
                    "start a new run without --resume",
                    param_hint="--resume",
                )

    return SameHyperparameters()


def recorded_options(path: Path) -> dict[str, Any] | None:
    """The ``options`` a run recorded in its hparams.yaml (``None`` if there are none)."""
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe loading, plus the tuples Lightning's writer tags as ``python/tuple``."""

    Loader.add_constructor("tag:yaml.org,2002:python/tuple", Loader.construct_sequence)
    try:
        record = yaml.load(path.read_text(), Loader=Loader)  # a SafeLoader
    except (OSError, yaml.YAMLError):
        return None
    options = record.get("options") if isinstance(record, dict) else None
    return plain(options) if isinstance(options, dict) else None


def plain(value: Any) -> Any:
    """JSON-shaped copy: tuples become lists, paths and enums strings."""
    return json.loads(json.dumps(value, default=str))


def flag(name: str) -> str:
    """The command-line spelling of an option's parameter name (``batch_size``: ``--batch-size``)."""
    return "--" + name.replace("_", "-")
