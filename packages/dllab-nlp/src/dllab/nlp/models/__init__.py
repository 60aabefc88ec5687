"""The text networks: ``TextCNN``, ``BiRNN``, BERT (encoder, pretraining model, classifier)
and the translation encoder–decoders (``RNNSeq2Seq``, ``TransformerSeq2Seq``).

Each classifier takes ``(ids, valid_lens)``: padded token ids ``(B, T)`` and the number of real
tokens of each row ``(B,)``, and returns logits ``(B, num_classes)``.
"""

from dllab.nlp.models.bert import BERTClassifier, BERTConfig, BERTEncoder, BERTModel
from dllab.nlp.models.birnn import BiRNN
from dllab.nlp.models.seq2seq import RNNSeq2Seq, TransformerSeq2Seq
from dllab.nlp.models.textcnn import TextCNN

__all__ = [
    "BERTClassifier",
    "BERTConfig",
    "BERTEncoder",
    "BERTModel",
    "BiRNN",
    "RNNSeq2Seq",
    "TextCNN",
    "TransformerSeq2Seq",
]
