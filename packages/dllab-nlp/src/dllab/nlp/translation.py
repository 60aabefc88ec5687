"""``Translator``: the GRU, Bahdanau and Transformer encoder–decoders as a dllab ``Classifier``.

Training is teacher-forced with ``masked_cross_entropy`` (padding ignored) on core's fast
training path (the recipe's one-cycle schedule, no overridden optimizer step). Validation logs
``val_loss``, ``val_acc`` (per target token) and ``val_bleu``: core's ``corpus_bleu`` (0–100)
of the greedy translations of the whole validation set against its references, gathered over
the epoch. Texts come from the datamodule's ``decode_target`` (``TranslationData``); without
one, the ids themselves are scored as words.

``translate`` turns sentences into sentences (greedy or beam search), and ``QUICK`` holds the
settings of the quick CPU runs on the embedded numbers corpus, which the CLI reuses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

from dllab.core.checks import check_choice, check_int, check_positive_int
from dllab.core.metrics import corpus_bleu
from dllab.core.module import Classifier
from dllab.nlp.decoding import beam_search, greedy_decode
from dllab.nlp.models.seq2seq import RNNSeq2Seq, TransformerSeq2Seq, masked_cross_entropy
from dllab.nlp.special import EOS_ID, PAD_ID, SPECIAL_TOKENS

MODELS = ("seq2seq", "bahdanau", "transformer")

NETWORK_DEFAULTS: dict[str, dict[str, Any]] = {
    "seq2seq": {"embed_size": 32, "num_hiddens": 64, "num_layers": 2, "dropout": 0.0},
    "bahdanau": {"embed_size": 32, "num_hiddens": 64, "num_layers": 2, "dropout": 0.0},
    "transformer": {
        "d_model": 64,
        "num_heads": 4,
        "ffn_hidden": 128,
        "num_layers": 2,
        "dropout": 0.0,
        "max_len": 64,
    },
}
"""Each network's sizes (keyword arguments of ``RNNSeq2Seq`` or core's ``Seq2SeqConfig``)."""

RECIPE: dict[str, Any] = {"lr": 3e-3, "optimizer": "adam", "schedule": "onecycle"}
"""The training recipe's defaults (any ``Classifier``/``Module`` option may override them)."""

QUICK: dict[str, dict[str, Any]] = {
    "seq2seq": {"network": {}, "recipe": {"lr": 1e-2}, "epochs": 4, "batch_size": 128,
                "num_pairs": None, "num_steps": 16},
    "bahdanau": {"network": {}, "recipe": {"lr": 1e-2}, "epochs": 2, "batch_size": 128,
                 "num_pairs": None, "num_steps": 16},
    "transformer": {"network": {}, "recipe": {}, "epochs": 2, "batch_size": 128,
                    "num_pairs": None, "num_steps": 16},
}  # fmt: skip
"""Quick CPU runs on the numbers corpus (all 10,000 numbers: 9,000 to train, 1,000 held out),
per model: ``network`` sizes over ``NETWORK_DEFAULTS``, ``recipe`` options over ``RECIPE``,
``epochs``, ``batch_size``, ``num_pairs`` and ``num_steps`` (``TranslationData`` options).
Each takes about the same time, a few minutes on a 2-core CPU (an RNN epoch is slower, the
Bahdanau decoder's one step at a time slower still); the Transformer reaches a held-out corpus
BLEU above 80 within it, the GRUs do not."""


class Translator(Classifier):
    """An encoder–decoder over token ids: ``forward(src, src_valid_lens, tgt_in) -> logits``.

    Args:
        model: ``"seq2seq"`` (GRU), ``"bahdanau"`` (GRU with additive attention) or
            ``"transformer"``.
        src_vocab_size: source tokens, specials included.
        tgt_vocab_size: target tokens, specials included.
        network: sizes over ``NETWORK_DEFAULTS[model]``.
        **recipe: ``Classifier``/``Module`` options over ``RECIPE``.
    """

    def __init__(
        self,
        model: str = "transformer",
        src_vocab_size: int = 100,
        tgt_vocab_size: int = 100,
        network: dict[str, Any] | None = None,
        **recipe: Any,
    ) -> None:
        check_choice(model, "model", MODELS)
        check_int(src_vocab_size, "src_vocab_size", min=len(SPECIAL_TOKENS))
        check_int(tgt_vocab_size, "tgt_vocab_size", min=len(SPECIAL_TOKENS))
        options = {**RECIPE, **recipe}
        super().__init__(num_classes=tgt_vocab_size, **options)
        sizes = {**NETWORK_DEFAULTS[model], **(network or {})}
        self.model_name = model
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        try:
            if model == "transformer":
                self.net: RNNSeq2Seq | TransformerSeq2Seq = TransformerSeq2Seq(
                    src_vocab_size, tgt_vocab_size, **sizes
                )
            else:
                attention = model == "bahdanau"
                self.net = RNNSeq2Seq(src_vocab_size, tgt_vocab_size, attention, **sizes)
        except TypeError as err:
            raise ValueError(f"network options {sizes} do not fit {model}: {err}") from err
        self.save_hyperparameters(
            {
                "model": model,
                "src_vocab_size": src_vocab_size,
                "tgt_vocab_size": tgt_vocab_size,
                "network": sizes,
                **options,
            }
        )
        self.target_decoder: Callable[[Tensor], list[str]] | None = None
        """Target ids ``(N, T)`` -> texts for ``val_bleu``; default: the datamodule's
        ``decode_target``, else the ids as words."""
        self._hypotheses: list[str] = []
        self._references: list[str] = []

    def forward(self, src: Tensor, src_valid_lens: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, tgt_vocab_size)``."""
        return self.net(src, src_valid_lens, tgt_in)

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Mean cross-entropy over the non-padding target tokens."""
        return masked_cross_entropy(y_hat, y, PAD_ID)

    # ---- validation: loss, token accuracy, corpus BLEU --------------------------------------
    def _texts(self, ids: Tensor) -> list[str]:
        decode = self.target_decoder
        if decode is None and self._trainer is not None:
            decode = getattr(self._trainer.datamodule, "decode_target", None)
        if decode is not None:
            return decode(ids)
        texts = []
        for row in ids.tolist():
            row = row[: row.index(EOS_ID)] if EOS_ID in row else row
            texts.append(" ".join(str(i) for i in row if i >= len(SPECIAL_TOKENS)))
        return texts

    def on_validation_epoch_start(self) -> None:
        self._hypotheses, self._references = [], []

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        src, src_valid_lens, tgt_in, tgt_out = batch
        logits = self(src, src_valid_lens, tgt_in)  # (B, T, V)
        loss = self.loss(logits, tgt_out)
        real = tgt_out != PAD_ID  # (B, T)
        token_acc = (logits.argmax(-1) == tgt_out)[real].float().mean()
        decoded = greedy_decode(self.net, src, src_valid_lens, tgt_out.shape[1])  # (B, T)
        self._hypotheses += self._texts(decoded)
        self._references += self._texts(tgt_out)
        n = len(tgt_out)
        self.log("val_loss", loss, prog_bar=True, batch_size=n)
        self.log("val_acc", token_acc, prog_bar=True, batch_size=n)
        return loss

    def on_validation_epoch_end(self) -> None:
        if self._hypotheses:
            score = corpus_bleu(self._hypotheses, [self._references]).score
            self.log("val_bleu", score, prog_bar=True)

    # ---- decoding and attention ---------------------------------------------------------------
    def decode(
        self,
        src: Tensor,
        src_valid_lens: Tensor,
        max_len: int,
        beam: int = 1,
        length_penalty: float = 0.75,
    ) -> Tensor:
        """Target ids ``(B, max_len)``: greedy for ``beam=1``, else beam search."""
        check_positive_int(beam, "beam")
        if beam == 1:
            return greedy_decode(self.net, src, src_valid_lens, max_len)
        return beam_search(self.net, src, src_valid_lens, beam, max_len, length_penalty)[0]

    def attention_weights(self, src: Tensor, src_valid_lens: Tensor, tgt_in: Tensor) -> Tensor:
        """Attention of one sentence ``(heads, T, S)`` over its valid source, for plotting.

        Bahdanau: one head; Transformer: the last decoder block's cross-attention heads.

        Args:
            src: source ids ``(1, S)``.
            src_valid_lens: ``(1,)``.
            tgt_in: the decoder's input ``(1, T)`` (``<bos>`` and the translation).
        """
        if src.dim() != 2 or src.shape[0] != 1:
            raise ValueError(f"attention_weights takes one sentence, src (1, S), got {src.shape}")
        if not self.net.has_attention:
            raise ValueError("the plain GRU decoder has no attention; use model='bahdanau'")
        was_training = self.training
        self.eval()
        try:
            weights = self.net.attention_weights(src, src_valid_lens, tgt_in)  # (1, H, T, S)
        finally:
            self.train(was_training)
        return weights[0, :, :, : int(src_valid_lens[0])]  # (H, T, S_valid)


def translate(
    model: Translator,
    data: Any,
    texts: Sequence[str],
    beam: int = 1,
    max_len: int | None = None,
    length_penalty: float = 0.75,
) -> list[str]:
    """Translate ``texts`` with a trained ``Translator``.

    Args:
        model: the translator.
        data: a ``TranslationData`` (its ``encode_source`` and ``decode_target``), or a pair
            ``(src_encoder, tgt_encoder)`` (the vocabularies of a run folder).
        texts: source sentences.
        beam: beam size; 1 decodes greedily.
        max_len: the most target tokens; default the data's ``num_steps``.
        length_penalty: ``alpha`` of the beam's length normalisation.

    Raises:
        ValueError: no text, an empty text, or a bad ``beam``/``max_len``.
    """
    if not isinstance(model, Translator):
        raise TypeError(f"model must be a Translator, got {type(model).__name__}")
    if isinstance(data, tuple):
        from dllab.nlp.data.translation import TranslationData

        src_encoder, tgt_encoder = data
        data = TranslationData(src_encoder=src_encoder, tgt_encoder=tgt_encoder)
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise ValueError("texts must be a non-empty sequence of strings")
    check_positive_int(beam, "beam")
    steps = check_positive_int(max_len if max_len is not None else data.num_steps, "max_len")
    src, src_valid_lens = data.encode_source(texts)  # (N, S), (N,)
    device = model.device
    ids = model.decode(src.to(device), src_valid_lens.to(device), steps, beam, length_penalty)
    return data.decode_target(ids.cpu())
