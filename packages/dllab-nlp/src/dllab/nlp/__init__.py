"""dllab.nlp: vocabularies, subword tokenizers, IMDb sentiment with TextCNN, BiRNN and BERT.

The public names load lazily on first access, so ``import dllab.nlp`` and ``dllab --help``
import neither torch nor tokenizers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dllab.core.lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from dllab.nlp.data.glove import load_glove
    from dllab.nlp.data.imdb import read_imdb
    from dllab.nlp.data.numbers import english_number, french_number, make_number_pairs
    from dllab.nlp.data.reviews import make_negation_reviews, make_reviews, pretraining_paragraphs
    from dllab.nlp.data.sentiment import IMDbData, SentimentData, build_encoder
    from dllab.nlp.data.translation import TranslationData, preprocess_nmt, read_fra_eng
    from dllab.nlp.data.wikitext import read_wikitext2
    from dllab.nlp.decoding import beam_search, greedy_decode
    from dllab.nlp.encoding import Encoding, TextEncoder, load_encoder
    from dllab.nlp.models.bert import BERTClassifier, BERTConfig, BERTEncoder, BERTModel
    from dllab.nlp.models.birnn import BiRNN
    from dllab.nlp.models.seq2seq import (
        BahdanauDecoder,
        GRUDecoder,
        GRUEncoder,
        RNNSeq2Seq,
        TransformerSeq2Seq,
        masked_cross_entropy,
    )
    from dllab.nlp.models.textcnn import TextCNN
    from dllab.nlp.pretraining import (
        BERTPretrainData,
        BERTPretrainer,
        mask_tokens,
        nsp_pairs,
        synthetic_corpus,
    )
    from dllab.nlp.sentiment import SentimentClassifier
    from dllab.nlp.special import SPECIAL_TOKENS
    from dllab.nlp.subword import SubwordTokenizer, train_tokenizer
    from dllab.nlp.translation import Translator, translate
    from dllab.nlp.vocab import Vocab, WordTokenizer, tokenize

_LAZY = {
    "load_glove": "dllab.nlp.data.glove",
    "read_imdb": "dllab.nlp.data.imdb",
    "read_wikitext2": "dllab.nlp.data.wikitext",
    "make_reviews": "dllab.nlp.data.reviews",
    "make_negation_reviews": "dllab.nlp.data.reviews",
    "pretraining_paragraphs": "dllab.nlp.data.reviews",
    "SentimentData": "dllab.nlp.data.sentiment",
    "IMDbData": "dllab.nlp.data.sentiment",
    "build_encoder": "dllab.nlp.data.sentiment",
    "english_number": "dllab.nlp.data.numbers",
    "french_number": "dllab.nlp.data.numbers",
    "make_number_pairs": "dllab.nlp.data.numbers",
    "TranslationData": "dllab.nlp.data.translation",
    "preprocess_nmt": "dllab.nlp.data.translation",
    "read_fra_eng": "dllab.nlp.data.translation",
    "SPECIAL_TOKENS": "dllab.nlp.special",
    "Encoding": "dllab.nlp.encoding",
    "TextEncoder": "dllab.nlp.encoding",
    "load_encoder": "dllab.nlp.encoding",
    "SubwordTokenizer": "dllab.nlp.subword",
    "train_tokenizer": "dllab.nlp.subword",
    "Vocab": "dllab.nlp.vocab",
    "WordTokenizer": "dllab.nlp.vocab",
    "tokenize": "dllab.nlp.vocab",
    "TextCNN": "dllab.nlp.models.textcnn",
    "BiRNN": "dllab.nlp.models.birnn",
    "BERTConfig": "dllab.nlp.models.bert",
    "BERTEncoder": "dllab.nlp.models.bert",
    "BERTModel": "dllab.nlp.models.bert",
    "BERTClassifier": "dllab.nlp.models.bert",
    "BERTPretrainData": "dllab.nlp.pretraining",
    "BERTPretrainer": "dllab.nlp.pretraining",
    "mask_tokens": "dllab.nlp.pretraining",
    "nsp_pairs": "dllab.nlp.pretraining",
    "synthetic_corpus": "dllab.nlp.pretraining",
    "SentimentClassifier": "dllab.nlp.sentiment",
    "GRUEncoder": "dllab.nlp.models.seq2seq",
    "GRUDecoder": "dllab.nlp.models.seq2seq",
    "BahdanauDecoder": "dllab.nlp.models.seq2seq",
    "RNNSeq2Seq": "dllab.nlp.models.seq2seq",
    "TransformerSeq2Seq": "dllab.nlp.models.seq2seq",
    "masked_cross_entropy": "dllab.nlp.models.seq2seq",
    "greedy_decode": "dllab.nlp.decoding",
    "beam_search": "dllab.nlp.decoding",
    "Translator": "dllab.nlp.translation",
    "translate": "dllab.nlp.translation",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY, eager=("__version__",))
