"""``SentimentClassifier``: TextCNN, BiRNN or BERT as a dllab ``Classifier``.

``model`` names the network; ``network`` overrides its sizes (``NETWORK_DEFAULTS``). Every
option goes through ``save_hyperparameters``, so ``dllab.core.load.load_run`` rebuilds a
trained run. Pretrained vectors (GloVe) are passed as ``embeddings`` and end up in the
weights, not the hyperparameters. ``from_pretrained`` starts a BERT classifier from a
``BERTPretrainer`` run folder.

``QUICK`` holds the settings of the quick CPU runs (network sizes, recipe, data and epochs)
that reach >= 90% validation accuracy on the synthetic reviews; the CLI and notebook reuse them.
"""

from __future__ import annotations

import os
from typing import Any

from torch import Tensor, nn

from dllab.core.checks import check_choice
from dllab.core.module import Classifier
from dllab.nlp.models.bert import BERTClassifier, BERTConfig
from dllab.nlp.models.birnn import BiRNN
from dllab.nlp.models.textcnn import TextCNN

MODELS = ("textcnn", "birnn", "bert")

NETWORK_DEFAULTS: dict[str, dict[str, Any]] = {
    "textcnn": {"embed_size": 64, "kernel_sizes": [3, 4, 5], "num_channels": 64, "dropout": 0.5},
    "birnn": {"embed_size": 64, "num_hiddens": 64, "num_layers": 2, "dropout": 0.0},
    "bert": {
        "d_model": 64,
        "num_heads": 2,
        "ffn_hidden": 128,
        "num_layers": 2,
        "max_len": 64,
        "dropout": 0.1,
    },
}
"""Each network's sizes (keyword arguments of ``TextCNN``, ``BiRNN`` or ``BERTConfig``)."""

RECIPE: dict[str, Any] = {"lr": 1e-3, "optimizer": "adamw", "weight_decay": 0.01}
"""The training recipe's defaults (any ``Classifier``/``Module`` option may override them)."""

QUICK: dict[str, dict[str, Any]] = {
    "textcnn": {"network": {}, "recipe": {"lr": 3e-3}, "epochs": 4, "batch_size": 64,
                "n_train": 2000},
    "birnn": {"network": {}, "recipe": {"lr": 3e-3}, "epochs": 4, "batch_size": 64,
              "n_train": 2000},
    "bert": {"network": {}, "recipe": {"lr": 1e-3}, "epochs": 8, "batch_size": 32,
             "n_train": 2000},
}  # fmt: skip
"""Quick CPU runs on the synthetic reviews, per model: ``network`` sizes over
``NETWORK_DEFAULTS``, ``recipe`` options over ``RECIPE``, ``epochs``, ``batch_size`` and
``n_train`` (training reviews); ``QUICK_DATA`` holds the shared data settings. BERT reaches 90%
when it starts from a quick pretraining run (``dllab.nlp.pretraining.QUICK``)."""

QUICK_DATA: dict[str, Any] = {"n_train": 2000, "max_len": 48, "seed": 0}
"""The synthetic data of the quick runs (``SentimentData`` options; a model's own ``n_train``
in ``QUICK`` wins)."""


class SentimentClassifier(Classifier):
    """A text classifier over token ids: ``forward(ids, valid_lens) -> logits (B, C)``.

    Args:
        model: ``"textcnn"``, ``"birnn"`` or ``"bert"`` (BERT reads ``<cls> text <sep>`` ids,
            so encode with ``add_cls_sep=True``).
        vocab_size: the tokenizer's vocabulary size.
        num_classes: number of labels.
        network: sizes over ``NETWORK_DEFAULTS[model]``.
        embeddings: starting vectors ``(vocab_size, embed_size)`` for TextCNN or BiRNN (GloVe).
        freeze_embeddings: keep those vectors fixed during training.
        pretrained_from: a record of the pretraining run BERT started from (set by
            ``from_pretrained``; informational, nothing is loaded from it here).
        **recipe: ``Classifier``/``Module`` options over ``RECIPE``.
    """

    def __init__(
        self,
        model: str = "textcnn",
        vocab_size: int = 1000,
        num_classes: int = 2,
        network: dict[str, Any] | None = None,
        embeddings: Tensor | None = None,
        freeze_embeddings: bool = False,
        pretrained_from: str | None = None,
        **recipe: Any,
    ) -> None:
        check_choice(model, "model", MODELS)
        options = {**RECIPE, **recipe}
        super().__init__(num_classes=num_classes, **options)
        sizes = {**NETWORK_DEFAULTS[model], **(network or {})}
        if embeddings is not None:
            if model == "bert":
                raise ValueError("embeddings apply to textcnn and birnn; BERT learns its own")
            sizes["embed_size"] = int(embeddings.shape[-1])
        self.model_name, self.vocab_size = model, vocab_size
        self.net = self._build(model, vocab_size, num_classes, sizes, embeddings, freeze_embeddings)
        self.save_hyperparameters(
            {
                "model": model,
                "vocab_size": vocab_size,
                "num_classes": num_classes,
                "network": sizes,
                "freeze_embeddings": freeze_embeddings,
                "pretrained_from": pretrained_from,
                **options,
            }
        )

    @staticmethod
    def _build(
        model: str,
        vocab_size: int,
        num_classes: int,
        sizes: dict[str, Any],
        embeddings: Tensor | None,
        freeze: bool,
    ) -> nn.Module:
        try:
            if model == "bert":
                return BERTClassifier(BERTConfig(vocab_size, **sizes), num_classes)
            network = TextCNN if model == "textcnn" else BiRNN
            return network(
                vocab_size,
                num_classes=num_classes,
                embeddings=embeddings,
                freeze_embeddings=freeze,
                **sizes,
            )
        except TypeError as err:
            raise ValueError(f"network options {sizes} do not fit {model}: {err}") from err

    @property
    def max_len(self) -> int | None:
        """The longest input the network takes (BERT's positions), None when unbounded."""
        return self.net.config.max_len if isinstance(self.net, BERTClassifier) else None

    def check_encoder(self, encoder: Any) -> None:
        """Raise ``ValueError`` unless ``encoder`` (a ``TextEncoder``) has this model's vocabulary."""
        size = getattr(encoder, "vocab_size", None)
        if size != self.vocab_size:
            raise ValueError(
                f"the tokenizer has a vocabulary of {size} tokens, the model {self.vocab_size}: "
                "use the tokenizer the model was trained with (saved in its run folder)"
            )

    def forward(self, ids: Tensor, valid_lens: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` of padded ids ``(B, T)`` with lengths ``(B,)``."""
        return self.net(ids, valid_lens)

    @classmethod
    def from_pretrained(
        cls, run: str | os.PathLike[str], num_classes: int = 2, **recipe: Any
    ) -> SentimentClassifier:
        """A BERT classifier whose encoder and pooler come from a ``BERTPretrainer`` run.

        Args:
            run: the pretraining run folder (or checkpoint), read through ``load_run``.
            num_classes: number of labels of the new head.
            **recipe: ``Classifier``/``Module`` options over ``RECIPE``.

        Raises:
            ValueError: the run holds another kind of model.
        """
        from dllab.core.load import load_run
        from dllab.nlp.pretraining import BERTPretrainer

        pretrainer = load_run(run)
        if not isinstance(pretrainer, BERTPretrainer):
            raise ValueError(f"{run} holds a {type(pretrainer).__name__}, not a BERTPretrainer run")
        config = pretrainer.bert.config
        sizes = {k: v for k, v in config.to_dict().items() if k != "vocab_size"}
        model = cls(
            "bert",
            config.vocab_size,
            num_classes,
            network=sizes,
            pretrained_from=str(run),
            **recipe,
        )
        model.net.load_pretrained(pretrainer.bert)
        return model
