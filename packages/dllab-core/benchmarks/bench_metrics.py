"""Corpus BLEU: dllab's from-scratch ``corpus_bleu`` vs ``sacrebleu.corpus_bleu``.

A seeded random corpus (two reference streams, punctuation for the 13a tokenizer) is scored
by both, for ``tokenize="13a"`` and ``"none"``. After a warm-up the contenders run
interleaved; the minimum of each is compared. Every sample is printed, and the last line is
one JSON object of ratios (dllab time / sacrebleu time; below 1 means dllab is faster).

    uv run --frozen python packages/dllab-core/benchmarks/bench_metrics.py [--segments 1000]
"""

from __future__ import annotations

import argparse
import json
import random

import sacrebleu

from dllab.core.bench import interleaved, ratio, report
from dllab.core.metrics import corpus_bleu

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "home", "U.S.", "3.5", "1,000",
         "don't", "co-op", "(yes)", '"no"', "&amp;", "e.g.,", "end.", "why?", "hello!"]  # fmt: skip


def make_corpus(segments: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """Hypotheses and two reference streams that share about half their words."""
    rng = random.Random(seed)

    def sentence() -> list[str]:
        return rng.choices(WORDS, k=rng.randint(5, 25))

    hyps, refs_a, refs_b = [], [], []
    for _ in range(segments):
        ref = sentence()
        hyp = [w if rng.random() < 0.6 else rng.choice(WORDS) for w in ref]
        hyps.append(" ".join(hyp))
        refs_a.append(" ".join(ref))
        refs_b.append(" ".join(sentence()))
    return hyps, [refs_a, refs_b]


def main(segments: int = 1000, repeats: int = 5) -> dict[str, float]:
    """Time both implementations; print every sample and, last, the JSON ratios."""
    hyps, refs = make_corpus(segments)
    ratios = {}
    for tokenize in ("13a", "none"):
        ours = lambda t=tokenize: corpus_bleu(hyps, refs, tokenize=t)  # noqa: E731
        theirs = lambda t=tokenize: sacrebleu.corpus_bleu(hyps, refs, tokenize=t)  # noqa: E731
        assert abs(ours().score - theirs().score) < 1e-6  # a parity check
        samples = interleaved({"dllab": ours, "sacrebleu": theirs}, repeats=repeats)
        best = report(f"corpus BLEU, tokenize={tokenize}", samples)
        ratios[f"corpus_bleu_{tokenize}_vs_sacrebleu"] = ratio(best, "dllab", "sacrebleu")
    print(f"{segments} segments, 2 references, {repeats} interleaved repeats after a warm-up")
    print(json.dumps(ratios))
    return ratios


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    main(args.segments, args.repeats)
