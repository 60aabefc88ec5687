"""Greedy decoding and beam search over a batch of sentences (d2l 10.8).

Both work on any model with the incremental protocol of ``dllab.nlp.models.seq2seq``:
``start(src, src_valid_lens, use_cache)`` -> state, ``step(tokens (N,), state)`` ->
``(logits (N, V), state)`` and ``reorder(state, indices)``.

- ``greedy_decode`` takes ``argmax_y P(y | y_<t, x)`` at every step.
- ``beam_search`` keeps, per sentence, the ``k`` prefixes of highest log-probability
  ``log P(y_1..y_t | x)``: each step scores all ``k * V`` one-token extensions and keeps the
  best ``k`` (the model's state, a Transformer's key/value cache included, is reordered to the
  surviving beams). A beam that has emitted ``<eos>`` is finished: it is carried on with
  ``<pad>`` at no cost. At the end each beam is ranked by d2l's length normalisation
  ``log P(y | x) / L ** alpha``, ``L`` the tokens up to and including ``<eos>``. With
  ``k = 1`` the search is greedy decoding.

Outputs are token ids ``(B, max_len)``: each row up to and including its first ``<eos>``, then
``<pad>``.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor, nn

from dllab.core.checks import check_float, check_positive_int
from dllab.nlp.models.seq2seq import check_source
from dllab.nlp.special import BOS_ID, EOS_ID, PAD_ID


class IncrementalDecoder(Protocol):
    """What the decoders need of a model (``RNNSeq2Seq``, ``TransformerSeq2Seq``)."""

    def start(self, src: Tensor, src_valid_lens: Tensor, use_cache: bool = True) -> Any: ...

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]: ...

    def reorder(self, state: Any, indices: Tensor) -> Any: ...


def _check_inputs(model: Any, src: Tensor, src_valid_lens: Tensor, max_len: int) -> None:
    for name in ("start", "step", "reorder"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"{type(model).__name__} has no {name}(): not an incremental decoder")
    check_source(src, src_valid_lens)
    check_positive_int(max_len, "max_len")


class _EvalMode:
    """Eval mode and no gradients inside the block; the module's mode is restored after."""

    def __init__(self, model: Any) -> None:
        self.model = model if isinstance(model, nn.Module) else None
        self.no_grad = torch.no_grad()

    def __enter__(self) -> None:
        self.was_training = self.model is not None and self.model.training
        if self.model is not None:
            self.model.eval()
        self.no_grad.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.no_grad.__exit__(*exc)
        if self.model is not None:
            self.model.train(self.was_training)


def greedy_decode(
    model: IncrementalDecoder,
    src: Tensor,
    src_valid_lens: Tensor,
    max_len: int,
    use_cache: bool = True,
) -> Tensor:
    """Greedy decoding of a batch, stopping each row at ``<eos>`` or after ``max_len`` tokens.

    Args:
        model: an incremental decoder.
        src: source ids ``(B, S)``.
        src_valid_lens: ``(B,)``.
        max_len: the most tokens per row, ``<eos>`` included.
        use_cache: keep a Transformer's key/value cache (False recomputes the prefix).

    Returns:
        Ids ``(B, max_len)``; decoding stops early once every row has emitted ``<eos>``.
    """
    _check_inputs(model, src, src_valid_lens, max_len)
    batch = src.shape[0]
    out = torch.full((batch, max_len), PAD_ID, dtype=torch.long, device=src.device)
    with _EvalMode(model):
        state = model.start(src, src_valid_lens, use_cache=use_cache)
        tokens = torch.full((batch,), BOS_ID, dtype=torch.long, device=src.device)
        finished = torch.zeros(batch, dtype=torch.bool, device=src.device)  # (B,)
        for t in range(max_len):
            logits, state = model.step(tokens, state)  # (B, V)
            tokens = logits.argmax(-1).masked_fill(finished, PAD_ID)  # (B,)
            out[:, t] = tokens
            finished |= tokens == EOS_ID
            if bool(finished.all()):
                break
    return out


def beam_search(
    model: IncrementalDecoder,
    src: Tensor,
    src_valid_lens: Tensor,
    beam_size: int,
    max_len: int,
    length_penalty: float = 0.75,
    use_cache: bool = True,
) -> tuple[Tensor, Tensor]:
    """Batched beam search with d2l's length normalisation.

    Args:
        model: an incremental decoder.
        src: source ids ``(B, S)``.
        src_valid_lens: ``(B,)``.
        beam_size: beams ``k`` kept per sentence, ``>= 1``.
        max_len: the most tokens per output, ``<eos>`` included.
        length_penalty: ``alpha`` in ``log P(y | x) / L ** alpha`` (0 ranks by ``log P``).
        use_cache: keep a Transformer's key/value cache, reordered as beams are pruned.

    Returns:
        The best beam per sentence, ids ``(B, max_len)``, and its normalised score ``(B,)``.
    """
    _check_inputs(model, src, src_valid_lens, max_len)
    k = check_positive_int(beam_size, "beam_size")
    alpha = check_float(length_penalty, "length_penalty", min=0.0)
    batch, device = src.shape[0], src.device
    with _EvalMode(model):
        state = model.start(src, src_valid_lens, use_cache=use_cache)
        rows = torch.arange(batch, device=device)  # (B,)
        state = model.reorder(state, rows.repeat_interleave(k))  # B*k rows: k beams each
        tokens = torch.full((batch * k,), BOS_ID, dtype=torch.long, device=device)
        scores = torch.full((batch, k), float("-inf"), device=device)  # (B, k) log P
        scores[:, 0] = 0.0  # one live beam at the start, so the first step fans out
        out = torch.full((batch, k, max_len), PAD_ID, dtype=torch.long, device=device)
        finished = torch.zeros(batch, k, dtype=torch.bool, device=device)  # (B, k)
        for t in range(max_len):
            logits, state = model.step(tokens, state)  # (B*k, V)
            vocab = logits.shape[-1]
            log_probs = logits.float().log_softmax(-1).view(batch, k, vocab)  # (B, k, V)
            pad_only = torch.full_like(log_probs[0, 0], float("-inf"))  # (V,)
            pad_only[PAD_ID] = 0.0  # a finished beam extends with <pad> at no cost
            log_probs = torch.where(finished[..., None], pad_only, log_probs)
            candidates = (scores[..., None] + log_probs).view(batch, k * vocab)  # (B, k*V)
            scores, best = candidates.topk(k, dim=1)  # (B, k) each, best first
            beam, token = best // vocab, best % vocab  # (B, k): the parent beam, the new token
            out = out.gather(1, beam[..., None].expand(-1, -1, max_len))  # (B, k, max_len)
            out[:, :, t] = token
            finished = finished.gather(1, beam) | (token == EOS_ID)
            state = model.reorder(state, (rows[:, None] * k + beam).view(-1))  # (B*k,)
            tokens = token.view(-1)  # (B*k,)
            if bool(finished.all()):
                break
        lengths = ((out != PAD_ID).sum(-1)).clamp(min=1).float()  # (B, k), <eos> included
        normalised = scores / lengths**alpha  # (B, k)
        choice = normalised.argmax(dim=1)  # (B,)
    return out[rows, choice], normalised[rows, choice]
