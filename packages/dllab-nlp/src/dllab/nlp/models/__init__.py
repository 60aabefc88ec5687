"""The text networks: ``TextCNN``, ``BiRNN`` and BERT (encoder, pretraining model, classifier).

Each classifier takes ``(ids, valid_lens)``: padded token ids ``(B, T)`` and the number of real
tokens of each row ``(B,)``, and returns logits ``(B, num_classes)``.
"""

from dllab.nlp.models.bert import BERTClassifier, BERTConfig, BERTEncoder, BERTModel
from dllab.nlp.models.birnn import BiRNN
from dllab.nlp.models.textcnn import TextCNN

__all__ = ["BERTClassifier", "BERTConfig", "BERTEncoder", "BERTModel", "BiRNN", "TextCNN"]
