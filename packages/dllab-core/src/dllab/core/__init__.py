"""dllab.core: the lab's Trainer, Module and Classifier, metrics, data utilities and CLI.

Heavy names (anything that imports torch or lightning) load lazily on first access, so
``import dllab.core`` and ``dllab --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

__version__ = "0.2.0"

if TYPE_CHECKING:
    from dllab.core.callbacks import NonFiniteLossError
    from dllab.core.checkpoint import CheckpointError, load_checkpoint
    from dllab.core.data.datamodule import DataModule, TensorDataModule, data_root
    from dllab.core.data.download import (
        ChecksumError,
        DownloadError,
        UnsafeArchiveError,
        download,
        extract_archive,
        require_path,
    )
    from dllab.core.data.fashion_mnist import FashionMNIST
    from dllab.core.data.glyphs import GlyphsData
    from dllab.core.divergence import DivergenceError, DivergenceGuard
    from dllab.core.fundamentals.models import (
        MLP,
        LinearRegression,
        LinearRegressionScratch,
        MLPScratch,
        SoftmaxRegression,
        SoftmaxRegressionScratch,
    )
    from dllab.core.load import load_run
    from dllab.core.metrics import BLEUScore, accuracy, bleu, corpus_bleu, perplexity
    from dllab.core.module import Classifier, Module
    from dllab.core.nn.masking import masked_softmax
    from dllab.core.nn.multihead import MultiHeadAttention
    from dllab.core.nn.transformer import TransformerDecoder, TransformerEncoder
    from dllab.core.trainer import Trainer

_LAZY = {
    "Module": "dllab.core.module",
    "Classifier": "dllab.core.module",
    "Trainer": "dllab.core.trainer",
    "DataModule": "dllab.core.data.datamodule",
    "TensorDataModule": "dllab.core.data.datamodule",
    "data_root": "dllab.core.data.datamodule",
    "NonFiniteLossError": "dllab.core.callbacks",
    "CheckpointError": "dllab.core.checkpoint",
    "load_checkpoint": "dllab.core.checkpoint",
    "DivergenceError": "dllab.core.divergence",
    "DivergenceGuard": "dllab.core.divergence",
    "load_run": "dllab.core.load",
    "GlyphsData": "dllab.core.data.glyphs",
    "FashionMNIST": "dllab.core.data.fashion_mnist",
    "download": "dllab.core.data.download",
    "extract_archive": "dllab.core.data.download",
    "require_path": "dllab.core.data.download",
    "ChecksumError": "dllab.core.data.download",
    "DownloadError": "dllab.core.data.download",
    "UnsafeArchiveError": "dllab.core.data.download",
    "accuracy": "dllab.core.metrics",
    "bleu": "dllab.core.metrics",
    "corpus_bleu": "dllab.core.metrics",
    "BLEUScore": "dllab.core.metrics",
    "perplexity": "dllab.core.metrics",
    "LinearRegressionScratch": "dllab.core.fundamentals.models",
    "LinearRegression": "dllab.core.fundamentals.models",
    "SoftmaxRegressionScratch": "dllab.core.fundamentals.models",
    "SoftmaxRegression": "dllab.core.fundamentals.models",
    "MLPScratch": "dllab.core.fundamentals.models",
    "MLP": "dllab.core.fundamentals.models",
    "masked_softmax": "dllab.core.nn.masking",
    "MultiHeadAttention": "dllab.core.nn.multihead",
    "TransformerEncoder": "dllab.core.nn.transformer",
    "TransformerDecoder": "dllab.core.nn.transformer",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, eager=("__version__",))
