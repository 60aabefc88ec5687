"""Metrics: accuracy, BLEU (d2l's sentence BLEU and a sacrebleu-equal corpus BLEU), perplexity.

- ``accuracy``: fraction of correct predictions from logits or predicted labels.
- ``bleu``: the sentence BLEU of d2l (Dive into Deep Learning, section 10.7), kept as written
  there: brevity term ``exp(min(0, 1 - len_label / len_pred))`` times the clipped n-gram
  precisions ``p_n`` weighted by ``1 / 2**n``.
- ``corpus_bleu``: standard corpus BLEU (Papineni et al., 2002) written from scratch with
  the conventions of sacrebleu (Post, 2018): the ``13a`` tokenizer of mteval-v13a, n-gram counts
  clipped by the maximum count over the references, the closest reference length for the
  brevity penalty, and sacrebleu's smoothing methods. It returns the same score as
  ``sacrebleu.corpus_bleu``.
- ``perplexity``: ``exp`` of the mean token cross-entropy.

torch is imported inside the tensor metrics only, so the BLEU functions load instantly.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dllab.core.checks import check_positive, check_positive_int

if TYPE_CHECKING:
    from torch import Tensor

SMOOTH_DEFAULTS: dict[str, float | None] = {"none": None, "floor": 0.1, "add-k": 1.0, "exp": None}
TOKENIZERS = ("13a", "none")
_LOG_ZERO = -9999999999.0  # sacrebleu's floor for log(0): the geometric mean becomes 0


# ---- accuracy ----------------------------------------------------------------------------------
def accuracy(y_hat: Tensor, y: Tensor) -> Tensor:
    """Fraction of correct predictions, as a 0-d float tensor.

    Args:
        y_hat: logits or scores of shape ``(..., C)``, or predicted labels of the same shape
            as ``y``.
        y: integer class labels of shape ``(...)``.

    Raises:
        TypeError: if an input is not a tensor or ``y`` is not an integer tensor.
        ValueError: if the shapes do not match or there are no samples.
    """
    import torch

    if not isinstance(y_hat, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("accuracy expects tensors for y_hat and y")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"labels y must be an integer tensor, got {y.dtype}")
    if y_hat.dim() == y.dim() + 1 and y_hat.shape[:-1] == y.shape:
        if y_hat.shape[-1] == 0:
            raise ValueError("y_hat has zero classes in its last dimension")
        pred = y_hat.argmax(dim=-1)  # (...)
    elif y_hat.shape == y.shape:
        pred = y_hat
    else:
        raise ValueError(
            f"y_hat {tuple(y_hat.shape)} does not match y {tuple(y.shape)}: expected logits of "
            "shape (*y.shape, C) or predicted labels of shape y.shape"
        )
    if y.numel() == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (pred.to(y.dtype) == y).float().mean()


# ---- d2l's sentence BLEU -----------------------------------------------------------------------
def bleu(pred_seq: str, label_seq: str, k: int) -> float:
    """d2l's sentence BLEU of a prediction against one label sequence, in ``[0, 1]``.

    Tokens are split on whitespace. For ``n = 1..min(k, len_pred)`` the precision ``p_n`` counts
    the prediction's n-grams found in the label, each label n-gram matched at most as often as
    it occurs there; the score is ``exp(min(0, 1 - len_label / len_pred)) * prod p_n ** (1/2**n)``.

    Args:
        pred_seq: predicted sentence.
        label_seq: reference sentence.
        k: longest n-gram order, ``>= 1``.

    Returns:
        The score; ``0.0`` for an empty prediction (d2l divides by zero there).

    Raises:
        TypeError: if a sequence is not a ``str`` or ``k`` is not an int.
        ValueError: if ``k < 1``.
    """
    if not isinstance(pred_seq, str) or not isinstance(label_seq, str):
        raise TypeError("bleu expects pred_seq and label_seq as strings")
    check_positive_int(k, "k")
    pred_tokens, label_tokens = pred_seq.split(), label_seq.split()
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred == 0:
        return 0.0
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        label_subs = Counter(_ngrams(label_tokens, n))
        num_matches = 0
        for gram in _ngrams(pred_tokens, n):
            if label_subs[gram] > 0:
                num_matches += 1
                label_subs[gram] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


# ---- corpus BLEU -------------------------------------------------------------------------------
# mteval-v13a's language-dependent rules, in order (as in sacrebleu's TokenizerRegexp)
_13A_RULES = (
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # split off most punctuation
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period/comma unless preceded by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # period/comma unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash preceded by a digit
)


def tokenize_13a(line: str) -> str:
    """mteval-v13a tokenization (WMT's standard): returns space-separated tokens."""
    if not isinstance(line, str):
        raise TypeError(f"tokenize_13a expects a string, got {type(line).__name__}")
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&")
        line = line.replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, repl in _13A_RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


@dataclass(frozen=True)
class BLEUScore:
    """Corpus BLEU and its sufficient statistics.

    Attributes:
        score: BLEU in ``[0, 100]``.
        counts: matched n-grams per order ``1..max_order`` (after add-k smoothing, as sacrebleu).
        totals: hypothesis n-grams per order.
        precisions: n-gram precisions in percent.
        bp: brevity penalty.
        sys_len: total hypothesis length in tokens.
        ref_len: total closest-reference length in tokens.
    """

    score: float
    counts: tuple[float, ...]
    totals: tuple[float, ...]
    precisions: tuple[float, ...]
    bp: float
    sys_len: int
    ref_len: int

    @property
    def ratio(self) -> float:
        """``sys_len / ref_len`` (0 when there is no reference text)."""
        return self.sys_len / self.ref_len if self.ref_len else 0.0

    def __str__(self) -> str:
        prec = "/".join(f"{p:.1f}" for p in self.precisions)
        return f"BLEU = {self.score:.2f} {prec} (BP = {self.bp:.3f} ratio = {self.ratio:.3f})"


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str | None]] | Sequence[str],
    tokenize: str = "13a",
    smooth: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    max_order: int = 4,
    effective_order: bool = False,
) -> BLEUScore:
    """Corpus BLEU of hypotheses against one or more reference streams (sacrebleu-equal).

    Args:
        hypotheses: one string per segment.
        references: one reference stream (a sequence of strings, one per segment) or several
            streams (a sequence of such sequences), as in ``sacrebleu.corpus_bleu``. A ``None``
            entry means that stream has no reference for that segment.
        tokenize: ``"13a"`` (mteval-v13a) or ``"none"`` (split on whitespace only).
        smooth: ``"exp"``, ``"none"``, ``"floor"`` or ``"add-k"`` (Chen and Cherry, 2014).
        smooth_value: the value for ``"floor"`` (default 0.1) and ``"add-k"`` (default 1).
        lowercase: lowercase hypotheses and references first.
        max_order: longest n-gram order, ``>= 1``.
        effective_order: stop at the first order with no hypothesis n-grams (for sentences).

    Raises:
        TypeError: if the inputs are not sequences of strings.
        ValueError: on an unknown option, an empty corpus, or a reference stream whose length
            differs from the number of hypotheses.
    """
    hyps, streams = _check_corpus(hypotheses, references)
    if tokenize not in TOKENIZERS:
        raise ValueError(f"tokenize must be one of {TOKENIZERS}, got {tokenize!r}")
    if smooth not in SMOOTH_DEFAULTS:
        raise ValueError(f"smooth must be one of {tuple(SMOOTH_DEFAULTS)}, got {smooth!r}")
    check_positive_int(max_order, "max_order")
    if smooth_value is not None:
        check_positive(smooth_value, "smooth_value")

    def prepare(text: str) -> list[str]:
        text = text.lower() if lowercase else text
        text = text.rstrip()
        return (tokenize_13a(text) if tokenize == "13a" else text).split()

    sys_len = ref_len = 0
    correct, total = [0] * max_order, [0] * max_order
    for i, hyp in enumerate(hyps):
        refs = [prepare(stream[i]) for stream in streams if stream[i] is not None]
        if not refs:
            raise ValueError(f"segment {i} has no reference in any stream (all are None)")
        hyp_tokens = prepare(hyp)
        seg_correct, seg_total = _match_counts(hyp_tokens, refs, max_order)
        sys_len += len(hyp_tokens)
        ref_len += _closest_ref_len(len(hyp_tokens), [len(r) for r in refs])
        correct = [a + b for a, b in zip(correct, seg_correct, strict=True)]
        total = [a + b for a, b in zip(total, seg_total, strict=True)]
    return _score_from_stats(
        correct, total, sys_len, ref_len, smooth, smooth_value, effective_order
    )


def _check_corpus(
    hypotheses: Sequence[str], references: Sequence[Sequence[str | None]] | Sequence[str]
) -> tuple[list[str], list[Sequence[str | None]]]:
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise TypeError("hypotheses must be a sequence of strings (one per segment)")
    if not all(isinstance(h, str) for h in hypotheses):
        raise TypeError("every hypothesis must be a string")
    if len(hypotheses) == 0:
        raise ValueError("corpus_bleu needs at least one hypothesis")
    if isinstance(references, str) or not isinstance(references, Sequence) or not references:
        raise TypeError("references must be a non-empty sequence of reference streams")
    if all(isinstance(r, str) for r in references):
        streams: list[Sequence[str | None]] = [references]  # type: ignore[list-item]
    else:
        streams = list(references)  # type: ignore[arg-type]
    for j, stream in enumerate(streams):
        if isinstance(stream, str) or not isinstance(stream, Sequence):
            raise TypeError(f"reference stream {j} must be a sequence of strings")
        if not all(r is None or isinstance(r, str) for r in stream):
            raise TypeError(f"reference stream {j} must hold strings (or None)")
        if len(stream) != len(hypotheses):
            raise ValueError(
                f"reference stream {j} has {len(stream)} segments but there are "
                f"{len(hypotheses)} hypotheses; each stream needs one reference per hypothesis"
            )
    return list(hypotheses), streams


def _match_counts(
    hyp: list[str], refs: list[list[str]], max_order: int
) -> tuple[list[int], list[int]]:
    """Per-order matched and total hypothesis n-grams, clipped by the max reference count."""
    ref_max = _all_ngrams(refs[0], max_order)
    for ref in refs[1:]:
        for gram, count in _all_ngrams(ref, max_order).items():
            if count > ref_max[gram]:  # a Counter answers 0 for a missing n-gram
                ref_max[gram] = count
    correct, total = [0] * max_order, [0] * max_order
    for gram, count in _all_ngrams(hyp, max_order).items():
        order = len(gram) - 1
        total[order] += count
        if gram in ref_max:
            correct[order] += min(count, ref_max[gram])
    return correct, total


def _all_ngrams(tokens: list[str], max_order: int) -> Counter[tuple[str, ...]]:
    """Counts of every n-gram of order 1..max_order (the tuple length is the order)."""
    return Counter(
        tuple(tokens[i : i + n])
        for n in range(1, max_order + 1)
        for i in range(len(tokens) - n + 1)
    )


def _closest_ref_len(hyp_len: int, ref_lens: list[int]) -> int:
    """The reference length closest to ``hyp_len``; ties go to the shorter reference."""
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def _score_from_stats(
    correct: list[int],
    total: list[int],
    sys_len: int,
    ref_len: int,
    smooth: str,
    smooth_value: float | None,
    effective_order: bool,
) -> BLEUScore:
    """BLEU from corpus statistics with sacrebleu's smoothing rules."""
    max_order = len(correct)
    value = SMOOTH_DEFAULTS[smooth] if smooth_value is None else smooth_value
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * max_order
    counts: list[float] = list(correct)
    totals: list[float] = list(total)
    if not any(correct):  # no match at all: BLEU is 0 whatever the smoothing
        return BLEUScore(0.0, tuple(counts), tuple(totals), tuple(precisions), bp, sys_len, ref_len)
    mteval_divisor, eff_order = 1.0, max_order
    for n in range(1, max_order + 1):
        if smooth == "add-k" and n > 1:
            assert value is not None
            counts[n - 1] += value
            totals[n - 1] += value
        if totals[n - 1] == 0:
            break
        if effective_order:
            eff_order = n
        if counts[n - 1] == 0:
            if smooth == "exp":
                mteval_divisor *= 2
                precisions[n - 1] = 100.0 / (mteval_divisor * totals[n - 1])
            elif smooth == "floor":
                assert value is not None
                precisions[n - 1] = 100.0 * value / totals[n - 1]
        else:
            precisions[n - 1] = 100.0 * counts[n - 1] / totals[n - 1]
    logs = [math.log(p) if p > 0 else _LOG_ZERO for p in precisions[:eff_order]]
    score = bp * math.exp(sum(logs) / eff_order)
    return BLEUScore(score, tuple(counts), tuple(totals), tuple(precisions), bp, sys_len, ref_len)


# ---- perplexity --------------------------------------------------------------------------------
def perplexity(
    loss_or_logits: float | Tensor,
    targets: Tensor | None = None,
    ignore_index: int | None = None,
) -> Tensor:
    """``exp`` of the mean token cross-entropy, as a 0-d float tensor.

    Args:
        loss_or_logits: either a mean negative log-likelihood (a number or 0-d tensor, with
            ``targets=None``), or logits of shape ``(..., V)`` with ``targets``.
        targets: integer token ids of shape ``(...)``.
        ignore_index: a target id that does not count (padding), only with ``targets``.

    Raises:
        TypeError: on non-tensor logits/targets or non-integer targets.
        ValueError: on mismatched shapes, a negative or NaN loss, or no counted tokens.
    """
    import torch
    from torch.nn import functional as F

    if targets is None:
        if ignore_index is not None:
            raise ValueError("ignore_index needs logits and targets, not a mean loss")
        loss = torch.as_tensor(loss_or_logits)
        if loss.numel() != 1 or not loss.is_floating_point():
            raise ValueError(
                "without targets, pass a scalar mean NLL; got a tensor of shape "
                f"{tuple(loss.shape)} and dtype {loss.dtype} (pass targets for logits)"
            )
        if torch.isnan(loss) or loss < 0:
            raise ValueError(f"a mean NLL must be >= 0, got {loss.item()}")
        return torch.exp(loss.reshape(()))
    logits = loss_or_logits
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("perplexity expects tensors for logits and targets")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got {logits.dtype}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"targets must be an integer tensor, got {targets.dtype}")
    if logits.dim() != targets.dim() + 1 or logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} do not match targets {tuple(targets.shape)}: "
            "expected logits of shape (*targets.shape, vocab_size)"
        )
    flat_targets = targets.reshape(-1).long()  # (N,)
    keep = torch.ones_like(flat_targets, dtype=torch.bool)
    if ignore_index is not None:
        keep = flat_targets != ignore_index
    if not keep.any():
        raise ValueError("perplexity needs at least one target token that is not ignore_index")
    vocab = logits.shape[-1]
    kept = flat_targets[keep]
    low, high = int(kept.min()), int(kept.max())
    if low < 0 or high >= vocab:
        raise ValueError(f"targets must be token ids in [0, {vocab}), got ids from {low} to {high}")
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), flat_targets, **kwargs)  # mean
    return torch.exp(nll)
