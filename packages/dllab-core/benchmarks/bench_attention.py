"""Attention speed and memory: dllab against PyTorch, scratch against SDPA, cache against recompute.

Four measurements on CPU, in one process:

1. forward + backward of self-attention: dllab ``MultiHeadAttention`` (fast path: fused
   in-projection and SDPA) against ``nn.MultiheadAttention`` (``need_weights=False``, its own
   fastest path) with the same weights;
2. forward + backward of causal scaled dot-product attention: the from-scratch path against
   ``F.scaled_dot_product_attention``;
3. peak memory allocated during forward + backward of (2) at T=1024, read from the torch
   profiler's allocation events;
4. decoding 128 tokens one at a time through a 2-layer decoder: with the key/value cache
   against recomputing the whole causal pass at every step.

Contenders run interleaved after a warm-up; every sample is printed and minimums are
compared. The last line is one JSON object of ratios (smaller is better except
``kv_cache_speedup``).

    uv run --frozen python packages/dllab-core/benchmarks/bench_attention.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from dllab.core.bench import interleaved, report
from dllab.core.nn.attention import dot_product_attention, sdpa_attention
from dllab.core.nn.multihead import MultiHeadAttention, load_from_torch_mha
from dllab.core.nn.transformer import TransformerDecoder


def forward_backward(module: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor):
    def step() -> None:
        module(x).sum().backward()

    return step


def bench_mha(batch: int, seq: int, d: int, heads: int, repeats: int, inner: int) -> float:
    reference = nn.MultiheadAttention(d, heads, batch_first=True)
    ours = MultiHeadAttention(d, heads)
    load_from_torch_mha(ours, reference)
    x = torch.randn(batch, seq, d, requires_grad=True)
    samples = interleaved(
        {
            "dllab": forward_backward(ours, x),
            "torch": forward_backward(lambda h: reference(h, h, h, need_weights=False)[0], x),
        },
        repeats,
        inner,
    )
    best = report(f"MultiHeadAttention fwd+bwd, B={batch} T={seq} d={d} heads={heads}", samples)
    return best["dllab"] / best["torch"]


def attention_step(fn: Callable, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
    def step() -> None:
        out = fn(q, k, v, is_causal=True)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()

    return step


def qkv(batch: int, heads: int, seq: int, head_dim: int) -> list[torch.Tensor]:
    return [torch.randn(batch, heads, seq, head_dim, requires_grad=True) for _ in range(3)]


def bench_paths(batch: int, seq: int, d: int, heads: int, repeats: int, inner: int) -> float:
    q, k, v = qkv(batch, heads, seq, d // heads)
    samples = interleaved(
        {
            "scratch": attention_step(dot_product_attention, q, k, v),
            "sdpa": attention_step(sdpa_attention, q, k, v),
        },
        repeats,
        inner,
    )
    best = report(f"causal attention fwd+bwd, B={batch} heads={heads} T={seq}", samples)
    return best["scratch"] / best["sdpa"]


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (the profiler's C++ start/stop lines)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_bytes(step: Callable[[], None]) -> int:
    """Peak of bytes allocated (minus freed) during ``step``, from profiler memory events."""
    with quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for event in events:
        current += event.nbytes()
        peak = max(peak, current)
    return peak


def bench_memory(batch: int, seq: int, d: int, heads: int) -> float:
    q, k, v = qkv(batch, heads, seq, d // heads)
    peaks = {}
    for name, fn in (("scratch", dot_product_attention), ("sdpa", sdpa_attention)):
        step = attention_step(fn, q, k, v)
        step()  # warm-up
        peaks[name] = peak_bytes(step)
    print(f"peak memory of causal attention fwd+bwd, B={batch} heads={heads} T={seq}")
    for name, value in peaks.items():
        print(f"  {name:>10}: {value / 2**20:9.1f} MiB")
    return peaks["scratch"] / max(peaks["sdpa"], 1)


def bench_decode(batch: int, tokens: int, d: int, heads: int, layers: int, repeats: int) -> float:
    decoder = TransformerDecoder(layers, d, heads, 4 * d).eval()
    x = torch.randn(batch, tokens, d)
    memory = torch.randn(batch, 32, d)

    @torch.no_grad()
    def recompute() -> None:
        for t in range(tokens):
            decoder(x[:, : t + 1], memory)

    @torch.no_grad()
    def cached() -> None:
        cache = decoder.new_cache()
        for t in range(tokens):
            decoder(x[:, t : t + 1], memory, cache=cache)

    samples = interleaved({"kv_cache": cached, "recompute": recompute}, repeats, inner=1)
    best = report(
        f"decode {tokens} tokens, B={batch} d={d} heads={heads} layers={layers}", samples, 1e3
    )
    return best["recompute"] / best["kv_cache"]


def main(
    batch: int = 32,
    seq: int = 128,
    d: int = 256,
    heads: int = 8,
    repeats: int = 5,
    inner: int = 3,
    mem_batch: int = 4,
    mem_seq: int = 1024,
    decode_tokens: int = 128,
    decode_layers: int = 2,
) -> dict[str, float]:
    """Run the four measurements; print them and a final JSON line of ratios."""
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    ratios = {
        "mha_over_torch": bench_mha(batch, seq, d, heads, repeats, inner),
        "scratch_over_sdpa": bench_paths(batch, seq, d, heads, repeats, inner),
        "memory_scratch_over_sdpa": bench_memory(mem_batch, mem_seq, d, heads),
        "kv_cache_speedup": bench_decode(
            batch, decode_tokens, d, heads, decode_layers, max(3, repeats // 2)
        ),
    }
    ratios = {k: round(v, 3) for k, v in ratios.items()}
    print(json.dumps(ratios))
    return ratios


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inner", type=int, default=3)
    parser.add_argument("--mem-batch", type=int, default=4)
    parser.add_argument("--mem-seq", type=int, default=1024)
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    main(
        args.batch,
        args.seq,
        args.d,
        args.heads,
        args.repeats,
        args.inner,
        args.mem_batch,
        args.mem_seq,
        args.decode_tokens,
    )
