"""Translation decoding speed, in one process, interleaved after a warm-up.

1. Throughput (sentences/s) of batched greedy decoding and of batched beam search (k=4) with
   the quick Transformer (``dllab.nlp.translation.QUICK``) on the held-out numbers.
2. The same Transformer decoding 64 tokens, token by token through its key/value cache against
   recomputing the whole prefix at every step (``use_cache=False``).

The weights are untrained and ``<eos>`` is ruled out, so every sentence runs to the full length
(the worst case: a trained model stops earlier). The last line is one JSON object:
``greedy_sent_per_s``, ``beam4_sent_per_s`` and ``kv_cache_speedup`` (target >= 3).

    uv run python packages/dllab-nlp/benchmarks/bench_translate.py [--repeats 3] [--threads 1]

On a busy machine, ``--threads 1`` keeps torch's threads from waiting on each other.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dllab.core.bench import interleaved, ratio, report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="Samples per contender.")
    parser.add_argument("--sentences", type=int, default=256, help="Held-out sentences decoded.")
    parser.add_argument("--batch", type=int, default=128, help="Sentences decoded together.")
    parser.add_argument("--cache-batch", type=int, default=64, help="Sentences, cache test.")
    parser.add_argument("--cache-tokens", type=int, default=64, help="Tokens, cache test.")
    parser.add_argument("--d-model", type=int, default=None, help="Override the model width.")
    parser.add_argument("--num-pairs", type=int, default=2000, help="Numbers corpus size.")
    parser.add_argument("--threads", type=int, default=0, help="Torch threads (0: default).")
    return parser.parse_args(argv)


def build(args: argparse.Namespace):
    """The quick Transformer (untrained, ``<eos>`` ruled out) and the numbers data."""
    from dllab.nlp.data.translation import TranslationData
    from dllab.nlp.special import EOS_ID
    from dllab.nlp.translation import QUICK, Translator

    quick = QUICK["transformer"]
    data = TranslationData("numbers", num_steps=quick["num_steps"], num_pairs=args.num_pairs)
    network = {**quick["network"], "max_len": max(128, args.cache_tokens + 1)}
    if args.d_model is not None:
        network.update(d_model=args.d_model, ffn_hidden=2 * args.d_model)
    torch.manual_seed(0)
    model = Translator("transformer", data.src_vocab_size, data.tgt_vocab_size, network).eval()
    with torch.no_grad():
        model.net.net.head.bias[EOS_ID] = -1e4  # never stop early: time the full length
    return model, data


def bench_throughput(args: argparse.Namespace, model, data) -> tuple[float, float]:
    from dllab.nlp.decoding import beam_search, greedy_decode

    src, lens, _, _ = data.tensors("val")
    while len(src) < args.sentences:  # repeat the held-out set up to the asked size
        src, lens = torch.cat((src, src)), torch.cat((lens, lens))
    src, lens = src[: args.sentences], lens[: args.sentences]
    steps = data.num_steps

    def batches():
        for start in range(0, len(src), args.batch):
            yield src[start : start + args.batch], lens[start : start + args.batch]

    def greedy() -> None:
        for s, n in batches():
            greedy_decode(model.net, s, n, steps)

    def beam4() -> None:
        for s, n in batches():
            beam_search(model.net, s, n, 4, steps)

    samples = interleaved({"greedy": greedy, "beam 4": beam4}, repeats=args.repeats)
    title = (f"translation of {len(src)} sentences, batches of {args.batch}, {steps} tokens "
             f"each, cpu ({torch.get_num_threads()} threads)")  # fmt: skip
    best = report(title, samples, unit=1.0, unit_name="s")
    per_s = {name: len(src) / seconds for name, seconds in best.items()}
    for name, value in per_s.items():
        print(f"  {name:>12}: {value:9.1f} sentences/s")
    return round(per_s["greedy"], 1), round(per_s["beam 4"], 1)


def bench_cache(args: argparse.Namespace, model, data) -> float:
    from dllab.nlp.decoding import greedy_decode

    src, lens, _, _ = data.tensors("val")
    src, lens = src[: args.cache_batch], lens[: args.cache_batch]
    tokens = args.cache_tokens

    def run(use_cache: bool):
        def decode() -> None:
            out = greedy_decode(model.net, src, lens, tokens, use_cache=use_cache)
            assert (out != 0).all()  # every row ran the whole length

        return decode

    samples = interleaved({"cached": run(True), "uncached": run(False)}, repeats=args.repeats)
    best = report(f"Transformer decoding of {tokens} tokens, batch {len(src)}", samples)
    return ratio(best, "uncached", "cached")


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    tic = time.perf_counter()
    model, data = build(args)
    greedy, beam4 = bench_throughput(args, model, data)
    results = {
        "greedy_sent_per_s": greedy,
        "beam4_sent_per_s": beam4,
        "kv_cache_speedup": bench_cache(args, model, data),
    }
    print(f"({time.perf_counter() - tic:.0f} s in all)")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
