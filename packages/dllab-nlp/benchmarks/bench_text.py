"""dllab.nlp against its references, in one process, interleaved after a warm-up.

1. Tokenization throughput (MB/s) of HF ``tokenizers`` with batch encoding (Rust, on every
   core unless ``TOKENIZERS_PARALLELISM`` is off) against the pure-Python word tokenizer (one
   regex, then ``Vocab`` lookup), on the same generated text (20 MB by default). The HF side is
   the fair counterpart: a ``WordLevel`` model over the same ``Vocab``, with the same
   lowercasing, ``<br />`` removal and split regex, encoded by ``encode_batch_fast`` (no
   offsets); both sides must return the same ids, which the benchmark asserts. The reviews
   are joined into documents of ``--doc-words`` words (IMDb's reviews average about 230), so
   the per-text overhead weighs as it would on real reviews.
2. BERT-small training throughput (tokens/s) on CPU: dllab's ``BERTEncoder`` (core's
   ``TransformerEncoder`` with GELU, attention through ``F.scaled_dot_product_attention``)
   against the same stack of ``nn.TransformerEncoderLayer(activation="gelu",
   batch_first=True)`` over the same embeddings, from the same weights, with the same
   MLM-style head and loss. The two alternate over ``--bert-rounds`` rounds after a warm-up,
   on the same inputs; the ratio reported is the median of the per-round ratios, which a
   load spike during one round cannot swing.
3. TextCNN training throughput (samples/s).

The last line is one JSON object: ``hf_tokenizer_speedup`` (target >= 10),
``bert_over_torch_encoder`` (throughput ratio, target >= 0.95) and ``textcnn_samples_per_s``.

    uv run python packages/dllab-nlp/benchmarks/bench_text.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dllab.core.bench import interleaved, paired_ratio, ratio, report, round_ratios


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="Samples per contender.")
    parser.add_argument("--megabytes", type=float, default=20.0, help="Text to tokenize (MB).")
    parser.add_argument("--doc-words", type=int, default=230, help="Words per document.")
    parser.add_argument("--vocab-size", type=int, default=8000, help="BERT's vocabulary.")
    parser.add_argument("--bert-batch", type=int, default=32, help="BERT sequences per step.")
    parser.add_argument("--bert-len", type=int, default=64, help="BERT tokens per sequence.")
    parser.add_argument("--bert-layers", type=int, default=2, help="BERT encoder blocks.")
    parser.add_argument("--bert-d", type=int, default=128, help="BERT model width.")
    parser.add_argument("--bert-steps", type=int, default=5, help="BERT steps per sample.")
    parser.add_argument("--bert-rounds", type=int, default=9, help="BERT alternations.")
    parser.add_argument("--cnn-batch", type=int, default=64, help="TextCNN texts per step.")
    parser.add_argument("--cnn-len", type=int, default=64, help="TextCNN tokens per text.")
    parser.add_argument("--cnn-steps", type=int, default=10, help="TextCNN steps per sample.")
    return parser.parse_args(argv)


# ---- 1. tokenization --------------------------------------------------------------------------
def generated_text(megabytes: float, doc_words: int = 230, seed: int = 0) -> list[str]:
    """Synthetic reviews joined into documents of about ``doc_words`` words (0: one review
    each), one per line, until ``megabytes`` of UTF-8 text."""
    from dllab.nlp.data.reviews import make_reviews

    target, docs, size, round_ = megabytes * 1e6, [], 0, 0
    parts: list[str] = []
    words = 0
    while size < target:
        texts, _ = make_reviews(2000, seed=seed + round_)
        for text in texts:
            parts.append(text)
            words += text.count(" ") + 1
            if words >= doc_words:
                docs.append(" ".join(parts))
                size += len(docs[-1].encode()) + 1
                parts, words = [], 0
                if size >= target:
                    break
        round_ += 1
    return docs


def hf_word_tokenizer(vocab: Any) -> Any:
    """A HF ``Tokenizer`` that returns ``vocab[tokenize(text)]``: the same normalization and
    split regex as ``dllab.nlp.vocab.tokenize``, then a ``WordLevel`` lookup."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

    from dllab.nlp.special import UNK
    from dllab.nlp.vocab import _BREAK, _TOKEN

    hf = Tokenizer(models.WordLevel(dict(vocab.token_to_idx), unk_token=UNK))
    hf.normalizer = normalizers.Sequence(
        [normalizers.Lowercase(), normalizers.Replace(Regex(_BREAK.pattern), " ")]
    )  # lowercase first: the break tag then matches in any case, as with re.IGNORECASE
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(_TOKEN.pattern), "isolated")]
    )
    return hf


def bench_tokenization(args: argparse.Namespace) -> float:
    from dllab.nlp.vocab import Vocab, tokenize

    docs = generated_text(args.megabytes, args.doc_words)
    megabytes = sum(len(doc.encode()) + 1 for doc in docs) / 1e6
    vocab = Vocab.build([tokenize(doc) for doc in docs[:1000]])  # unseen words map to <unk>
    hf = hf_word_tokenizer(vocab)

    def python_regex() -> list[list[int]]:
        return [vocab[tokenize(doc)] for doc in docs]

    def hf_batch() -> list[list[int]]:
        return [e.ids for e in hf.encode_batch_fast(docs, add_special_tokens=False)]

    if python_regex() != hf_batch():
        raise AssertionError("the HF tokenizer and the Python one disagree on some ids")
    parallel = os.environ.get("TOKENIZERS_PARALLELISM", "unset")
    print(f"TOKENIZERS_PARALLELISM={parallel}, {os.cpu_count()} cpus; the same ids on both sides")
    samples = interleaved(
        {"python regex": python_regex, "hf batch": hf_batch}, repeats=args.repeats, warmup=0
    )
    best = report(f"tokenization of {megabytes:.1f} MB ({len(docs)} documents of about "
                  f"{args.doc_words} words) to ids", samples, unit=1.0, unit_name="s")  # fmt: skip
    for name, seconds in best.items():
        print(f"  {name:>12}: {megabytes / seconds:9.2f} MB/s")
    return ratio(best, "python regex", "hf batch")


# ---- 2. BERT-small training -----------------------------------------------------------------
class TorchBERTEncoder(nn.Module):
    """The reference: a copy of BERT's embeddings over ``nn.TransformerEncoder`` (GELU)."""

    def __init__(self, ours: nn.Module, num_layers: int, d: int, heads: int, ffn: int) -> None:
        super().__init__()
        from dllab.core.nn.transformer import load_from_torch_encoder_layer

        self.embeddings = copy.deepcopy(ours)  # token, segment, position, norm, dropout
        del self.embeddings.blocks
        layer = nn.TransformerEncoderLayer(
            d, heads, ffn, dropout=0.1, activation="gelu", batch_first=True, norm_first=False
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        for torch_layer, block in zip(self.encoder.layers, ours.blocks.blocks, strict=True):
            load_from_torch_encoder_layer(block, torch_layer)  # the same weights in both

    def forward(self, ids: Tensor, segments: Tensor, valid_lens: Tensor) -> Tensor:
        from dllab.core.nn.masking import padding_mask

        x = self.embeddings.embed(ids, segments)  # (B, T, d)
        pad = padding_mask(valid_lens, ids.shape[1])  # (B, T), True on padding
        return self.encoder(x, src_key_padding_mask=pad)


def mlm_steps(encoder: nn.Module, head: nn.Module, batch: tuple[Tensor, ...], steps: int):
    """A closure running ``steps`` Adam steps of a loss on the masked positions (as MLM)."""
    ids, segments, valid_lens, positions, targets = batch
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-4)

    def run() -> None:
        for _ in range(steps):
            logits = head(encoder(ids, segments, valid_lens)[positions])  # (M, V)
            loss = F.cross_entropy(logits, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return run


def bench_bert(args: argparse.Namespace) -> float:
    from dllab.nlp.models.bert import BERTEncoder

    torch.manual_seed(0)
    d, heads, ffn, vocab = args.bert_d, 2, 2 * args.bert_d, args.vocab_size
    ours = BERTEncoder(vocab, d, heads, ffn, args.bert_layers, max_len=args.bert_len, dropout=0.1)
    reference = TorchBERTEncoder(ours, args.bert_layers, d, heads, ffn)
    B, T = args.bert_batch, args.bert_len
    ids = torch.randint(7, vocab, (B, T))
    segments = (torch.arange(T) >= T // 2).long().expand(B, T).contiguous()
    valid_lens = torch.randint(T // 2, T + 1, (B,))
    positions = torch.rand(B, T) < 0.15  # (B, T): the "masked" positions
    targets = torch.randint(0, vocab, (int(positions.sum()),))  # (M,)
    batch = (ids, segments, valid_lens, positions, targets)
    heads_ = [nn.Linear(d, vocab) for _ in range(2)]
    heads_[1].load_state_dict(heads_[0].state_dict())
    samples = interleaved(
        {
            "dllab": mlm_steps(ours.train(), heads_[0], batch, args.bert_steps),
            "torch": mlm_steps(reference.train(), heads_[1], batch, args.bert_steps),
        },
        repeats=args.bert_rounds,
        warmup=2,
    )
    tokens = B * T * args.bert_steps
    print(f"BERT-small training ({args.bert_layers} blocks, d={d}, {heads} heads, ffn {ffn}), "
          f"batch {B}x{T}, cpu: tokens/s = {tokens} / time")  # fmt: skip
    best = report("  seconds per sample", samples, unit=1.0, unit_name="s")
    for name, seconds in best.items():
        print(f"  {name:>12}: {tokens / seconds:9.0f} tokens/s (best round)")
    per_round = round_ratios(samples, "torch", "dllab")
    print("  throughput ratio dllab/torch per round:", " ".join(f"{r:.3f}" for r in per_round))
    return paired_ratio(samples, "torch", "dllab")  # time ratio torch/dllab = throughput ratio


# ---- 3. TextCNN training --------------------------------------------------------------------
def bench_textcnn(args: argparse.Namespace) -> float:
    from dllab.nlp.models.textcnn import TextCNN

    torch.manual_seed(0)
    net = TextCNN(args.vocab_size).train()
    B, T = args.cnn_batch, args.cnn_len
    ids = torch.randint(7, args.vocab_size, (B, T))
    valid_lens = torch.randint(T // 2, T + 1, (B,))
    y = torch.randint(0, 2, (B,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def run() -> None:
        for _ in range(args.cnn_steps):
            loss = F.cross_entropy(net(ids, valid_lens), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    samples = interleaved({"textcnn": run}, repeats=args.repeats)
    best = report(f"TextCNN training, batch {B}x{T}, cpu", samples, unit=1.0, unit_name="s")
    per_s = B * args.cnn_steps / best["textcnn"]
    print(f"  {'textcnn':>12}: {per_s:9.0f} samples/s")
    return round(per_s, 1)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {load:.2f}")
    tic = time.perf_counter()
    results = {
        "hf_tokenizer_speedup": bench_tokenization(args),
        "bert_over_torch_encoder": bench_bert(args),
        "textcnn_samples_per_s": bench_textcnn(args),
    }
    print(f"({time.perf_counter() - tic:.0f} s in all)")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
