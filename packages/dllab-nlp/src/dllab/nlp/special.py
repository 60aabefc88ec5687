"""The reserved tokens and their ids, shared by ``Vocab``, the subword tokenizers and models.

The first three match core's sequence models (``Seq2SeqTransformer``): ``<pad>`` = 0,
``<bos>`` = 1, ``<eos>`` = 2. Every vocabulary in dllab.nlp starts with all seven, in order.
"""

from __future__ import annotations

PAD, BOS, EOS, UNK, CLS, SEP, MASK = "<pad>", "<bos>", "<eos>", "<unk>", "<cls>", "<sep>", "<mask>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK, CLS, SEP, MASK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))
