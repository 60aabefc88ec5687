"""The bodies of ``dllab nlp translate train|run`` (``cli``).

A training run's folder carries both encoders, written through ``TrainingCommand``'s
artifacts: ``src_vocab.json`` and ``tgt_vocab.json`` (word level) or ``src_tokenizer.json``
and ``tgt_tokenizer.json`` (BPE). ``--resume`` and ``run`` need nothing but the folder.

After training, the held-out pairs are translated greedily and scored: ``bleu`` (core's
``corpus_bleu``, 0-100), ``sentence_bleu`` (the mean of d2l's sentence BLEU with ``k=2``, 0-1)
and ``exact_match``; a few translations are printed, and the attention models draw the
attention of the first held-out sentence into ``attention.png``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from dllab.nlp.commands import _one_line, _training_command

TRANSLATE_RUN = "nlp-translate-train"
ENCODER_FILES = {
    "word": ("src_vocab.json", "tgt_vocab.json"),
    "bpe": ("src_tokenizer.json", "tgt_tokenizer.json"),
}
QUICK_FRA_ENG_PAIRS = 2000
"""``--quick`` on fra-eng: the first (shortest) pairs, and a few batches of each split."""
EXAMPLES = 3
"""Held-out translations printed after training."""
DECODE_BATCH = 256


def _quick_translate(model_name: str, dataset: str) -> dict[str, Any]:
    """``--quick``: the quick CPU run of ``dllab.nlp.translation.QUICK[model_name]``."""
    from dllab.nlp.translation import QUICK

    quick = QUICK[model_name]
    pairs = quick["num_pairs"] if dataset == "numbers" else QUICK_FRA_ENG_PAIRS
    return {
        "epochs": quick["epochs"],
        "batch_size": quick["batch_size"],
        "lr": quick["recipe"].get("lr"),
        "samples": pairs,
        "num_steps": quick["num_steps"],
    }


def _encoders(run: Any, tokenizer: str) -> tuple[Any, Any]:
    """The resumed run's source and target encoders, or ``(None, None)`` for a new run."""
    from dllab.nlp.encoding import load_encoder

    if run.resumed_from is None:
        return None, None
    src_file, tgt_file = ENCODER_FILES[tokenizer]
    return load_encoder(run.resumed_file(src_file)), load_encoder(run.resumed_file(tgt_file))


def translate_train_command(options: dict[str, Any]) -> dict[str, Any]:
    """``dllab nlp translate train``: fit, then score the held-out pairs; returns the summary."""
    import lightning as L

    from dllab.core.cli.options import apply_quick
    from dllab.core.data.download import DownloadError
    from dllab.nlp.data.translation import TranslationData
    from dllab.nlp.translation import QUICK, Translator

    model_name, dataset = str(options["model"]), str(options["dataset"])
    options["tokenizer"] = str(options["tokenizer"])
    quick = apply_quick(options, _quick_translate(model_name, dataset))
    with _training_command(TRANSLATE_RUN, options, limit=quick and dataset == "fra-eng") as run:
        L.seed_everything(options["seed"], verbose=False)
        src_encoder, tgt_encoder = _encoders(run, options["tokenizer"])
        data = TranslationData(
            dataset,
            num_steps=options["num_steps"],
            batch_size=options["batch_size"],
            seed=options["seed"],
            root=options["data_dir"],
            download=options["download"],
            num_pairs=options["samples"],
            tokenizer=options["tokenizer"],
            src_encoder=src_encoder,
            tgt_encoder=tgt_encoder,
            vocab_size=options["vocab_size"],
        )
        try:
            data.setup()
        except (FileNotFoundError, DownloadError) as err:
            raise typer.BadParameter(_one_line(err), param_hint="--dataset/--download") from None
        recipe = dict(QUICK[model_name]["recipe"])
        if options["lr"] is not None:
            recipe["lr"] = options["lr"]
        network = QUICK[model_name]["network"]
        model = Translator(model_name, data.src_vocab_size, data.tgt_vocab_size, network, **recipe)
        src_file, tgt_file = ENCODER_FILES[options["tokenizer"]]
        artifacts = {src_file: data.src_encoder.save, tgt_file: data.tgt_encoder.save}
        return run.fit(model, data, artifacts=artifacts, after_fit=_evaluate)


def _translate_ids(model: Any, src: Any, src_valid_lens: Any, max_len: int, beam: int = 1) -> Any:
    """Decoded target ids ``(N, max_len)`` on the model's device, in batches, without grads."""
    import torch

    device, rows = model.device, []
    with torch.inference_mode():
        for start in range(0, len(src), DECODE_BATCH):
            part = slice(start, start + DECODE_BATCH)
            ids = model.decode(src[part].to(device), src_valid_lens[part].to(device), max_len, beam)
            rows.append(ids.cpu())
    return torch.cat(rows)  # (N, max_len)


def _evaluate(trainer: Any, model: Any, data: Any, run_dir: Path) -> dict[str, float]:
    """After training: BLEU of the greedy translations of the held-out pairs, examples and
    (attention models) the heatmaps of the first held-out sentence."""
    from dllab.core.metrics import bleu, corpus_bleu

    model.eval()
    src, src_valid_lens, _, _ = data.val_tensors
    pairs = data.pairs("val")
    ids = _translate_ids(model, src, src_valid_lens, data.num_steps)
    hypotheses = data.decode_target(ids)
    references = [french for _, french in pairs]
    scores = {
        "bleu": corpus_bleu(hypotheses, [references]).score,
        "sentence_bleu": sum(map(bleu, hypotheses, references, [2] * len(pairs))) / len(pairs),
        "exact_match": sum(h == r for h, r in zip(hypotheses, references, strict=True))
        / len(pairs),
    }
    if trainer.is_global_zero:
        for (english, french), hypothesis in list(zip(pairs, hypotheses, strict=True))[:EXAMPLES]:
            typer.echo(f"{english}  =>  {hypothesis}  (reference: {french})")
        if model.model_name != "seq2seq":
            _plot_attention(model, src[:1], src_valid_lens[:1], ids[:1], pairs[0][0], run_dir)
    return scores


def _plot_attention(
    model: Any, src: Any, src_valid_lens: Any, ids: Any, english: str, run_dir: Path
) -> Path:
    """``attention.png``: the attention of one sentence over its source, one panel a head."""
    import torch

    from dllab.core.nn.heatmaps import plot_attention_heatmaps
    from dllab.nlp.special import BOS_ID, EOS_ID

    row = ids[0].tolist()
    length = row.index(EOS_ID) + 1 if EOS_ID in row else len(row)
    tgt_in = torch.tensor([[BOS_ID, *row[: length - 1]]], device=model.device)  # (1, T)
    with torch.inference_mode():
        weights = model.attention_weights(
            src.to(model.device), src_valid_lens.to(model.device), tgt_in
        )  # (heads, T, S)
    heads = weights.shape[0]
    which = f", heads 1-{heads} from the left" if heads > 1 else ""
    return plot_attention_heatmaps(
        weights.cpu(),
        run_dir / "attention.png",
        xlabel="source position",
        ylabel="target position",
        suptitle=f"{model.model_name}{which}: {english}",
    )


# ---- translate run ----------------------------------------------------------------------------
def load_translate_run(run: Path) -> tuple[Any, Any]:
    """The trained ``Translator`` of a ``translate train`` run and a ``TranslationData`` that
    encodes and decodes like its training data (its encoders and ``num_steps``)."""
    import yaml

    from dllab.core.checkpoint import CheckpointError
    from dllab.core.load import load_run
    from dllab.nlp.data.translation import TranslationData
    from dllab.nlp.encoding import load_encoder
    from dllab.nlp.translation import Translator

    try:
        model = load_run(run)
    except (FileNotFoundError, CheckpointError) as err:
        raise typer.BadParameter(_one_line(err), param_hint="--run") from None
    found = [names for names in ENCODER_FILES.values() if all((run / n).is_file() for n in names)]
    if not isinstance(model, Translator) or not found:
        raise typer.BadParameter(
            f"{run} is not a run of dllab nlp translate train", param_hint="--run"
        )
    try:
        src_encoder, tgt_encoder = (load_encoder(run / name) for name in found[0])
    except ValueError as err:
        raise typer.BadParameter(_one_line(err), param_hint="--run") from None
    sizes = (src_encoder.vocab_size, tgt_encoder.vocab_size)
    if sizes != (model.src_vocab_size, model.tgt_vocab_size):
        raise typer.BadParameter(
            f"{run}: the vocabularies hold {sizes[0]} and {sizes[1]} tokens but the model was "
            f"built for {model.src_vocab_size} and {model.tgt_vocab_size}",
            param_hint="--run",
        )
    hparams = yaml.safe_load((run / "hparams.yaml").read_text()) or {}
    num_steps = int(hparams.get("options", {}).get("num_steps") or 16)
    data = TranslationData(num_steps=num_steps, src_encoder=src_encoder, tgt_encoder=tgt_encoder)
    return model, data


def _encode(data: Any, texts: Sequence[str]) -> tuple[Any, Any]:
    """Source ids of ``texts``; an empty text, or one of nothing but unknown words, is a bad
    parameter; other encoder warnings (a text cut to fit) are printed."""
    from dllab.nlp.special import EOS_ID, PAD_ID, UNK_ID

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            src, src_valid_lens = data.encode_source(texts)  # (N, S), (N,)
        except ValueError as err:
            raise typer.BadParameter(_one_line(err), param_hint="TEXTS") from None
    known = (src != UNK_ID) & (src != PAD_ID) & (src != EOS_ID)  # (N, S)
    unknown_only = (~known.any(dim=1)).nonzero().flatten().tolist()
    if unknown_only:
        first = unknown_only[0]
        raise typer.BadParameter(
            f"text {first} ({texts[first]!r}) has no word the run's source vocabulary knows: "
            "there is nothing to translate",
            param_hint="TEXTS",
        )
    for warning in caught:
        if "unknown tokens" not in str(warning.message):
            typer.echo(f"warning: {warning.message}", err=True)
    return src, src_valid_lens


def translate_run_command(run: Path, texts: Sequence[str], beam: int = 1) -> list[str]:
    """``dllab nlp translate run``: print each text's translation; returns them."""
    model, data = load_translate_run(run)
    src, src_valid_lens = _encode(data, texts)
    translations = data.decode_target(
        _translate_ids(model, src, src_valid_lens, data.num_steps, beam)
    )
    for text, translation in zip(texts, translations, strict=True):
        typer.echo(f"{text}  =>  {translation}")
    typer.echo(json.dumps({"translations": translations}, ensure_ascii=False))
    return translations
