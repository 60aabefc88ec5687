"""BERT pretraining: masked language modelling and next-sentence prediction (d2l 15.9-15.10).

- ``mask_tokens``: BERT's corruption. Each real, non-special token is chosen with probability
  ``prob`` (15%); a chosen token becomes ``<mask>`` 80% of the time, a random vocabulary token
  10% and stays itself 10%. The model must predict the original token at every chosen position.
- ``nsp_pairs``: consecutive sentences of a paragraph (label 1, *IsNext*) or, half the time, a
  sentence followed by a random one of the corpus (label 0, *NotNext*).
- ``synthetic_corpus``: the embedded pretraining text: ``pretraining_paragraphs`` (one genre
  and one polarity each) and as many paragraphs again strung from synthetic reviews of one
  polarity, half of them negation reviews, so negation (``not good``, ``never boring``) and
  contrast clauses are frequent in what BERT reads. No label is used; a paragraph keeps one
  polarity, so NSP and MLM reward reading which way each sentence leans.
- ``BERTPretrainData``: those pairs, encoded as ``<cls> a <sep> b <sep>`` with segments 0/1,
  in core's in-memory data module. Batches are ``(ids, segments, valid_lens, is_next)``.
- ``BERTPretrainer``: a ``BERTModel`` as a core ``Module``. Its ``forward`` masks the batch
  (fresh masks every step) and its loss is ``CE_mlm + CE_nsp``, so core's ``training_step`` and
  its direct optimizer step are kept. Validation masks with a fixed seed per batch and logs
  ``mlm_acc``, ``nsp_acc`` and ``perplexity = exp(mean CE_mlm)``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from dllab.core.checks import check_int, check_probability
from dllab.core.data.datamodule import TensorDataModule
from dllab.core.metrics import perplexity
from dllab.core.module import Module
from dllab.nlp.encoding import TextEncoder
from dllab.nlp.models.bert import BERTConfig, BERTModel
from dllab.nlp.special import MASK_ID, SPECIAL_TOKENS

IGNORE = -100
"""Label of the positions the MLM loss skips (``F.cross_entropy``'s default ``ignore_index``)."""

RECIPE: dict[str, Any] = {
    "lr": 2e-3,
    "optimizer": "adamw",
    "weight_decay": 0.01,
    "schedule": "cosine",
    "warmup_fraction": 0.1,
}
"""The pretraining recipe's defaults: AdamW, linear warm-up over the first 10% of the steps,
then cosine decay (any ``Module`` option may override them)."""

QUICK: dict[str, Any] = {
    "paragraphs": 1000,
    "vocab_size": 400,
    "max_len": 48,
    "epochs": 8,
    "batch_size": 64,
}
"""A quick CPU pretraining run on ``synthetic_corpus`` (its ``paragraphs``, WordPiece
vocabulary size, ``max_len``, epochs and batch size)."""

_CORPUS_SEEDS = (3_000_017, 4_000_037)  # offsets of ``seed``: streams the sentiment splits lack


def synthetic_corpus(
    paragraphs: int, seed: int = 0, negation_share: float = 0.5
) -> list[list[str]]:
    """The embedded pretraining corpus: about ``2.6 * paragraphs`` paragraphs, shuffled.

    ``pretraining_paragraphs(paragraphs, seed)``, then ``4 * paragraphs`` synthetic reviews
    (``negation_share`` of them from ``make_negation_reviews``) cut into sentences and strung
    two or three reviews of one polarity to a paragraph.
    """
    from dllab.nlp.data.reviews import make_negation_reviews, make_reviews, pretraining_paragraphs

    check_probability(negation_share, "negation_share", allow_one=True)
    out = pretraining_paragraphs(paragraphs, seed=seed)
    n_negation = round(4 * paragraphs * negation_share)
    texts: list[str] = []
    labels: list[int] = []
    for make, n, offset in ((make_reviews, 4 * paragraphs - n_negation, _CORPUS_SEEDS[0]),
                            (make_negation_reviews, n_negation, _CORPUS_SEEDS[1])):  # fmt: skip
        if n:
            more, more_labels = make(n, seed=seed + offset)
            texts, labels = texts + more, labels + more_labels
    rng = random.Random(seed + _CORPUS_SEEDS[0])
    by_polarity: dict[int, list[list[str]]] = {0: [], 1: []}
    for text, label in zip(texts, labels, strict=True):
        by_polarity[label].append([f"{s.strip()} ." for s in text.split(" .") if s.strip()])
    for reviews in by_polarity.values():
        rng.shuffle(reviews)
        while len(reviews) >= 2:
            k = min(rng.randint(2, 3), len(reviews))
            out.append([sentence for review in reviews[:k] for sentence in review])
            del reviews[:k]
    rng.shuffle(out)
    return out


class MaskedTokens(NamedTuple):
    """A batch corrupted for masked language modelling."""

    ids: Tensor
    """``(B, T)`` the input ids, with the chosen positions replaced (mask, random or kept)."""
    labels: Tensor
    """``(B, T)`` the original id at each chosen position, ``IGNORE`` elsewhere."""

    @property
    def positions(self) -> Tensor:
        """``(B, T)`` bool, True at the positions to predict."""
        return self.labels != IGNORE


def mask_tokens(
    ids: Tensor,
    valid_lens: Tensor,
    vocab_size: int,
    generator: torch.Generator | None = None,
    prob: float = 0.15,
) -> MaskedTokens:
    """BERT's 15% masking with its 80/10/10 split; special tokens and padding are never chosen.

    Args:
        ids: ``(B, T)`` token ids.
        valid_lens: ``(B,)`` real tokens per row.
        vocab_size: the random replacements are drawn from the non-special ids
            ``[len(SPECIAL_TOKENS), vocab_size)``.
        generator: the random source (on ``ids``'s device); None uses torch's global one.
        prob: the chance that each candidate token is chosen.
    """
    check_probability(prob, "prob")
    specials = len(SPECIAL_TOKENS)
    check_int(vocab_size, "vocab_size", min=specials + 1)
    positions = torch.arange(ids.shape[1], device=ids.device)  # (T,)
    candidate = (positions < valid_lens.unsqueeze(1)) & (ids >= specials)  # (B, T)
    draw = torch.rand(ids.shape, generator=generator, device=ids.device)  # (B, T)
    chosen = candidate & (draw < prob)
    split = torch.rand(ids.shape, generator=generator, device=ids.device)  # (B, T)
    random_ids = torch.randint(
        specials, vocab_size, ids.shape, generator=generator, device=ids.device
    )
    corrupted = torch.where(chosen & (split < 0.8), MASK_ID, ids)
    corrupted = torch.where(chosen & (split >= 0.8) & (split < 0.9), random_ids, corrupted)
    labels = torch.where(chosen, ids, IGNORE)
    return MaskedTokens(corrupted, labels)


def nsp_pairs(
    paragraphs: Sequence[Sequence[str]], rng: random.Random
) -> tuple[list[str], list[str], list[int]]:
    """Sentence pairs for next-sentence prediction, half of them true continuations.

    Every consecutive pair ``(s_i, s_{i+1})`` of a paragraph yields one example: itself with
    label 1, or with probability 1/2 ``s_i`` followed by a random sentence of a random
    paragraph, label 0.

    Returns:
        ``(firsts, seconds, is_next)``.
    """
    firsts: list[str] = []
    seconds: list[str] = []
    labels: list[int] = []
    for paragraph in paragraphs:
        for first, second in itertools.pairwise(paragraph):
            is_next = rng.random() < 0.5
            if not is_next:
                second = rng.choice(rng.choice(paragraphs))
            firsts.append(first)
            seconds.append(second)
            labels.append(int(is_next))
    return firsts, seconds, labels


def check_paragraphs(paragraphs: Any) -> list[list[str]]:
    """Paragraphs as lists of sentences; at least one must hold two sentences."""
    if isinstance(paragraphs, str) or not isinstance(paragraphs, Sequence):
        raise TypeError(f"paragraphs must be a list of sentence lists, got {type(paragraphs)}")
    out = []
    for i, paragraph in enumerate(paragraphs):
        if isinstance(paragraph, str) or not all(isinstance(s, str) for s in paragraph):
            raise TypeError(f"paragraphs[{i}] must be a list of sentences (str)")
        out.append(list(paragraph))
    if not any(len(p) >= 2 for p in out):
        raise ValueError(
            "next-sentence prediction needs paragraphs of two or more sentences; "
            f"none of the {len(out)} given has two"
        )
    return out


class BERTPretrainData(TensorDataModule):
    """Next-sentence pairs of ``paragraphs``, encoded for pretraining.

    Args:
        paragraphs: lists of sentences (``pretraining_paragraphs`` or ``read_wikitext2``).
        encoder: the tokenizer (``encode_pairs``), the one whose ``vocab_size`` the model uses.
        max_len: the padded length of each pair (longer pairs are cut, with a warning).
        batch_size, val_fraction, seed: as in ``TensorDataModule``; ``seed`` also picks the
            random second sentences.
    """

    def __init__(
        self,
        paragraphs: Sequence[Sequence[str]],
        encoder: TextEncoder,
        max_len: int = 64,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, val_fraction=val_fraction, seed=seed)
        self.paragraphs = check_paragraphs(paragraphs)
        self.encoder = encoder
        self.max_len = check_int(max_len, "max_len", min=5)

    def build(self) -> tuple[Tensor, ...]:  # type: ignore[override]
        """``(ids, segments, valid_lens, is_next)`` of every pair."""
        firsts, seconds, labels = nsp_pairs(self.paragraphs, random.Random(self.seed))
        encoded = self.encoder.encode_pairs(firsts, seconds, self.max_len)
        assert encoded.segments is not None
        return encoded.ids, encoded.segments, encoded.valid_lens, torch.tensor(labels)


class PretrainOutput(NamedTuple):
    """What ``BERTPretrainer.forward`` returns: the scores and the MLM targets."""

    mlm_logits: Tensor
    """``(M, vocab_size)`` at the ``M`` masked positions."""
    mlm_targets: Tensor
    """``(M,)`` the original ids there."""
    nsp_logits: Tensor
    """``(B, 2)``: NotNext, IsNext."""


class BERTPretrainer(Module):
    """BERT pretrained with MLM and NSP; ``bert`` is the ``BERTModel`` being trained.

    Args:
        vocab_size: the tokenizer's vocabulary size.
        mask_prob: the share of tokens chosen for MLM.
        **options: the network sizes, any field of ``BERTConfig`` (``d_model``, ``num_heads``,
            ``ffn_hidden``, ``num_layers``, ``max_len``, ``dropout``; its defaults otherwise),
            and ``Module`` options over ``RECIPE``.
    """

    def __init__(self, vocab_size: int, mask_prob: float = 0.15, **options: Any) -> None:
        check_int(vocab_size, "vocab_size", min=len(SPECIAL_TOKENS) + 1)
        sizes = {k: options.pop(k) for k in BERTConfig.fields() if k in options}
        config = BERTConfig(vocab_size, **sizes)
        recipe = {**RECIPE, **options}
        if recipe["schedule"] != "cosine" and "warmup_fraction" not in options:
            del recipe["warmup_fraction"]  # the default warm-up belongs to the cosine schedule
        super().__init__(**recipe)
        import torchmetrics

        self.bert = BERTModel(config)
        self.mask_prob = check_probability(mask_prob, "mask_prob")
        self.mlm_acc = torchmetrics.Accuracy(task="multiclass", num_classes=vocab_size)
        self.nsp_acc = torchmetrics.Accuracy(task="multiclass", num_classes=2)
        self.mlm_nll = torchmetrics.MeanMetric()
        self.save_hyperparameters({**config.to_dict(), "mask_prob": mask_prob, **recipe})

    def forward(
        self,
        ids: Tensor,
        segments: Tensor,
        valid_lens: Tensor,
        generator: torch.Generator | None = None,
    ) -> PretrainOutput:
        """Mask the batch (with ``generator``, else torch's global RNG), then score it."""
        masked = mask_tokens(
            ids, valid_lens, self.bert.config.vocab_size, generator, self.mask_prob
        )
        positions = masked.positions  # (B, T)
        _, mlm_logits, nsp_logits = self.bert(masked.ids, segments, valid_lens, positions)
        assert mlm_logits is not None
        return PretrainOutput(mlm_logits, ids[positions], nsp_logits)

    def loss(self, y_hat: PretrainOutput, y: Tensor) -> Tensor:  # type: ignore[override]
        """``CE(mlm_logits, mlm_targets) + CE(nsp_logits, is_next)`` (MLM is 0 with no mask)."""
        nsp = F.cross_entropy(y_hat.nsp_logits, y)
        if y_hat.mlm_targets.numel() == 0:
            return nsp + 0.0 * y_hat.mlm_logits.sum()
        return F.cross_entropy(y_hat.mlm_logits, y_hat.mlm_targets) + nsp

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        ids, segments, valid_lens, is_next = batch
        generator = torch.Generator(device=ids.device).manual_seed(batch_idx)  # same each epoch
        out = self(ids, segments, valid_lens, generator)
        loss = self.loss(out, is_next)
        if out.mlm_targets.numel():
            self.mlm_nll.update(
                F.cross_entropy(out.mlm_logits, out.mlm_targets), weight=out.mlm_targets.numel()
            )
            self.mlm_acc(out.mlm_logits, out.mlm_targets)
        self.nsp_acc(out.nsp_logits, is_next)
        self.log("val_loss", loss, prog_bar=True, batch_size=len(is_next), sync_dist=True)
        self.log("mlm_acc", self.mlm_acc, prog_bar=True)
        self.log("nsp_acc", self.nsp_acc, prog_bar=True)
        return loss

    def on_validation_epoch_end(self) -> None:
        if self.mlm_nll.update_count:
            self.log("perplexity", perplexity(self.mlm_nll.compute()), prog_bar=True)
        self.mlm_nll.reset()
