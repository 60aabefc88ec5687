"""Tests for dllab.core.metrics: parity with torchmetrics, d2l, sacrebleu and F.cross_entropy."""

from __future__ import annotations

import collections
import importlib.util
import math
import random
from pathlib import Path

import pytest
import sacrebleu
import torch
from torch.nn import functional as F

from dllab.core.metrics import accuracy, bleu, corpus_bleu, perplexity, tokenize_13a
from dllab.core.testing import assert_close_to_reference

PACKAGE = Path(__file__).resolve().parents[1]


# ---- accuracy ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(64,), (8, 5), (2, 3, 7)])
def test_accuracy_matches_torchmetrics_on_logits(shape):
    import torchmetrics

    g = torch.Generator().manual_seed(sum(shape))
    classes = 6
    logits = torch.randn(*shape, classes, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, shape, generator=g)
    reference = torchmetrics.functional.accuracy(
        logits.reshape(-1, classes), y.reshape(-1), task="multiclass", num_classes=classes,
        average="micro",
    )  # fmt: skip
    assert_close_to_reference(accuracy(logits, y), reference, atol=1e-7, name="accuracy")


def test_accuracy_of_predicted_labels_counts_matches():
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 4, (200,), generator=g)
    pred = torch.where(torch.rand(200, generator=g) < 0.7, y, (y + 1) % 4)
    expected = sum(int(a == b) for a, b in zip(pred.tolist(), y.tolist(), strict=True)) / 200
    result = accuracy(pred, y)
    assert result.dtype == torch.float32 and result.dim() == 0
    assert result.item() == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize(
    ("y_hat", "y", "error", "match"),
    [
        (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), ValueError, "does not match"),
        (torch.zeros(4, 3, 2), torch.zeros(4, dtype=torch.long), ValueError, "does not match"),
        (torch.zeros(4, 3), torch.zeros(4), TypeError, "integer"),
        (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), ValueError, "empty"),
        ([0, 1], torch.zeros(2, dtype=torch.long), TypeError, "tensors"),
    ],
)
def test_accuracy_rejects_bad_input(y_hat, y, error, match):
    with pytest.raises(error, match=match):
        accuracy(y_hat, y)


# ---- d2l's sentence BLEU -----------------------------------------------------------------------
def d2l_bleu(pred_seq, label_seq, k):
    """d2l.bleu, verbatim from Dive into Deep Learning (section 10.7), as the reference."""
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        num_matches, label_subs = 0, collections.defaultdict(int)
        for i in range(len_label - n + 1):
            label_subs[" ".join(label_tokens[i : i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[" ".join(pred_tokens[i : i + n])] > 0:
                num_matches += 1
                label_subs[" ".join(pred_tokens[i : i + n])] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def test_bleu_matches_d2l_on_random_sentences():
    rng = random.Random(0)
    vocab = ["il", "est", "calme", "je", "suis", "chez", "moi", "va", "!", "."]
    for _ in range(500):
        pred = " ".join(rng.choices(vocab, k=rng.randint(1, 9)))
        label = " ".join(rng.choices(vocab, k=rng.randint(1, 9)))
        k = rng.randint(1, 5)
        # tolerance: 1e-12 absolute; both sides do the same float operations
        assert bleu(pred, label, k) == pytest.approx(d2l_bleu(pred, label, k), abs=1e-12)


def test_bleu_is_one_for_an_exact_match_and_splits_on_any_whitespace():
    sentence = "je suis chez moi ."
    assert bleu(sentence, sentence, 4) == pytest.approx(1.0)
    assert bleu("je  suis\tchez moi .", sentence, 4) == pytest.approx(bleu(sentence, sentence, 4))
    assert bleu("je suis", sentence, 2) < bleu("je suis chez moi", sentence, 2)


def test_bleu_of_empty_prediction_is_zero():
    assert bleu("", "je suis chez moi", 2) == 0.0
    assert bleu("   ", "je suis", 1) == 0.0


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("a b", "a b", 0), ValueError, "k must be >= 1"),
        (("a b", "a b", 2.0), TypeError, "k must be an int"),
        (("a b", "a b", True), TypeError, "k must be an int"),
        ((["a", "b"], "a b", 2), TypeError, "strings"),
        (("a b", None, 2), TypeError, "strings"),
    ],
)
def test_bleu_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        bleu(*args)


# ---- corpus BLEU -------------------------------------------------------------------------------
WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "The", "CAT", "3.5", "1,000",
         "U.S.", "don't", "co-op", "9-5", "$10", "e.g.,", "(hi)", '"quoted"', "&amp;", "&quot;",
         "&lt;b&gt;", "end.", "x,y", "<skipped>", "hello!", "why?", "[a]", "{b}", "~", "@home",
         "a/b", "50%"]  # fmt: skip
ENDINGS = ["", ".", " .", "!", " ?", ",", "  ", "\t", "-\n", "\n"]


def random_corpus(rng: random.Random, max_refs: int = 3) -> tuple[list[str], list[list[str]]]:
    """A random corpus: hypotheses overlap with references through a shared sentence pool."""

    def sentence() -> str:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 14)))
        return text + rng.choice(ENDINGS)

    pool = [sentence() for _ in range(6)]

    def pick() -> str:
        return rng.choice(pool) if rng.random() < 0.3 else sentence()

    n = rng.randint(1, 8)
    hyps = [pick() for _ in range(n)]
    refs = [[pick() for _ in range(n)] for _ in range(rng.randint(1, max_refs))]
    return hyps, refs


def assert_same_as_sacrebleu(hyps, refs, **options):
    ours = corpus_bleu(hyps, refs, **options)
    ref = sacrebleu.corpus_bleu(
        hyps,
        refs,
        tokenize=options.get("tokenize", "13a"),
        smooth_method=options.get("smooth", "exp"),
        lowercase=options.get("lowercase", False),
    )
    # tolerance: 1e-6 absolute on the 0..100 score and on each precision; lengths exact
    assert ours.score == pytest.approx(ref.score, abs=1e-6), (hyps, refs, options)
    assert ours.precisions == pytest.approx(ref.precisions, abs=1e-6)
    assert ours.bp == pytest.approx(ref.bp, abs=1e-12)
    assert (ours.sys_len, ours.ref_len) == (ref.sys_len, ref.ref_len)
    assert list(ours.counts) == pytest.approx(list(ref.counts))
    assert list(ours.totals) == pytest.approx(list(ref.totals))


@pytest.mark.parametrize("tokenize", ["13a", "none"])
@pytest.mark.parametrize("smooth", ["exp", "none", "floor", "add-k"])
def test_corpus_bleu_matches_sacrebleu_on_random_corpora(tokenize, smooth):
    rng = random.Random(f"{tokenize}-{smooth}")
    for _ in range(150):
        hyps, refs = random_corpus(rng)
        assert_same_as_sacrebleu(
            hyps, refs, tokenize=tokenize, smooth=smooth, lowercase=rng.random() < 0.3
        )


def test_corpus_bleu_scores_are_not_trivial_in_the_random_trials():
    rng = random.Random(7)
    scores = [corpus_bleu(*random_corpus(rng)).score for _ in range(100)]
    assert sum(s > 0 for s in scores) > 10 and sum(s == 0 for s in scores) > 0


def test_tokenize_13a_matches_sacrebleu():
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    reference = Tokenizer13a()
    rng = random.Random(3)
    alphabet = "ab1.,-&;:/()[]{}~`@$%^*+=<>!?'\" \t\n\\|#_"
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 30))) for _ in range(2000)]
    texts += [" ".join(rng.choices(WORDS, k=5)) for _ in range(200)]
    for text in texts:
        assert tokenize_13a(text) == reference(text), repr(text)
    with pytest.raises(TypeError, match="expects a string"):
        tokenize_13a(None)


def test_corpus_bleu_edge_cases_match_sacrebleu():
    cases = [
        (["", "the cat"], [["the cat sat", "the cat"]]),  # an empty hypothesis
        (["", ""], [["a b", "c"]]),  # nothing hypothesised at all
        (["x y z"], [["a b c"]]),  # no matches
        (["a b c d e"], [["a b c d e"], ["a b"]]),  # exact match with a second, shorter ref
        (["a"], [["a b c d"]]),  # shorter than the n-gram order
        (["the cat"], [["the cat is here"], ["cat the"], ["the"]]),  # one ref as long as hyp
        # a real tie: refs of 3 and 1 tokens are both 1 away from the 2-token hypothesis; the
        # shorter one counts (ref_len 1, no brevity penalty), whichever reference comes first
        (["the cat"], [["the cat sat"], ["cat"]]),
        (["the cat"], [["cat"], ["the cat sat"]]),
        (["a b c d", "a b"], [["a b c d e f", "a"], ["a b", "a b c"]]),  # ties in both segments
    ]
    for hyps, refs in cases:
        for smooth in ("exp", "none", "floor", "add-k"):
            assert_same_as_sacrebleu(hyps, refs, smooth=smooth)


def test_corpus_bleu_accepts_one_stream_and_missing_references():
    hyps = ["the cat sat on the mat .", "a dog ran"]
    stream = ["the cat sat on a mat .", "the dog ran away"]
    assert corpus_bleu(hyps, stream).score == corpus_bleu(hyps, [stream]).score
    refs = [["the cat sat on the mat .", None], [None, "a dog ran"]]
    ours = corpus_bleu(hyps, refs)
    assert ours.score == pytest.approx(sacrebleu.corpus_bleu(hyps, refs).score, abs=1e-6)
    assert ours.score == pytest.approx(100.0)


@pytest.mark.parametrize(("smooth", "value"), [("floor", 0.5), ("add-k", 2), ("add-k", 0.25)])
def test_corpus_bleu_smooth_value_matches_sacrebleu(smooth, value):
    rng = random.Random(11)
    for _ in range(40):
        hyps, refs = random_corpus(rng)
        ours = corpus_bleu(hyps, refs, smooth=smooth, smooth_value=value)
        ref = sacrebleu.corpus_bleu(hyps, refs, smooth_method=smooth, smooth_value=value)
        assert ours.score == pytest.approx(ref.score, abs=1e-6)  # tolerance: 1e-6 absolute


def test_corpus_bleu_effective_order_and_max_order():
    hyps, refs = ["the cat"], [["the cat sat"]]
    assert corpus_bleu(hyps, refs, smooth="none").score == 0.0
    effective = corpus_bleu(hyps, refs, smooth="none", effective_order=True)
    reference = sacrebleu.corpus_bleu(hyps, refs, smooth_method="none", use_effective_order=True)
    assert effective.score == pytest.approx(reference.score, abs=1e-6)
    bigram = corpus_bleu(hyps, refs, smooth="none", max_order=2)
    assert bigram.score == pytest.approx(100 * math.exp(1 - 3 / 2), abs=1e-9)
    assert len(bigram.precisions) == 2


@pytest.mark.parametrize(
    ("hyps", "refs", "options", "error", "match"),
    [
        (["a", "b"], [["a"]], {}, ValueError, r"stream 0 has 1 segments but there are 2"),
        (["a"], [["a"], ["a", "b"]], {}, ValueError, "stream 1 has 2 segments"),
        ([], [[]], {}, ValueError, "at least one hypothesis"),
        ("a b", [["a b"]], {}, TypeError, "hypotheses must be a sequence"),
        ([1], [["a"]], {}, TypeError, "every hypothesis"),
        (["a"], "a", {}, TypeError, "references must be"),
        (["a"], [[3]], {}, TypeError, "must hold strings"),
        (["a"], [[None]], {}, ValueError, "no reference"),
        (["a"], [["a"]], {"tokenize": "intl"}, ValueError, "tokenize must be one of"),
        (["a"], [["a"]], {"smooth": "add-one"}, ValueError, "smooth must be one of"),
        (["a"], [["a"]], {"max_order": 0}, ValueError, "max_order"),
        (["a"], [["a"]], {"smooth": "floor", "smooth_value": 0}, ValueError, "smooth_value"),
    ],
)
def test_corpus_bleu_rejects_bad_input(hyps, refs, options, error, match):
    with pytest.raises(error, match=match):
        corpus_bleu(hyps, refs, **options)


# ---- perplexity --------------------------------------------------------------------------------
@pytest.mark.parametrize("ignore_index", [None, 0])
def test_perplexity_matches_cross_entropy_and_torchmetrics(ignore_index):
    from torchmetrics.functional.text import perplexity as tm_perplexity

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 9, 11, generator=g, dtype=torch.float64)  # (B, T, V)
    targets = torch.randint(0, 11, (4, 9), generator=g)  # (B, T)
    ours = perplexity(logits, targets, ignore_index=ignore_index)
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}
    expected = torch.exp(F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1), **kwargs))
    # tolerance: float64, 1e-10 relative against torch; 1e-9 relative against torchmetrics,
    # which sums the logs of softmax probabilities instead of a fused log-softmax
    assert_close_to_reference(ours, expected, atol=0, rtol=1e-10, name="perplexity")
    reference = tm_perplexity(logits, targets, ignore_index=ignore_index)
    assert_close_to_reference(ours, reference, atol=0, rtol=1e-9, name="vs torchmetrics")


def test_perplexity_of_a_mean_loss_and_of_a_uniform_model():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(32, 7, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 7, (32,), generator=g)
    loss = F.cross_entropy(logits, targets)
    assert perplexity(loss).item() == pytest.approx(perplexity(logits, targets).item(), rel=1e-12)
    assert perplexity(float(loss)).item() == pytest.approx(math.exp(float(loss)), rel=1e-6)
    uniform = torch.zeros(5, 13)  # a uniform model is as perplexed as the vocabulary is large
    assert perplexity(uniform, torch.arange(5)).item() == pytest.approx(13, rel=1e-5)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((torch.zeros(3, 4), torch.zeros(4, dtype=torch.long)), {}, ValueError, "do not match"),
        ((torch.zeros(3, 4), torch.zeros(3)), {}, TypeError, "integer"),
        ((torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, dtype=torch.long)), {}, TypeError,
         "floating"),
        ((torch.zeros(2, 4), torch.tensor([1, 4])), {}, ValueError, r"\[0, 4\)"),
        ((torch.zeros(2, 4), torch.tensor([0, 0])), {"ignore_index": 0}, ValueError,
         "at least one"),
        ((torch.zeros(3),), {}, ValueError, "scalar mean NLL"),
        ((-0.5,), {}, ValueError, ">= 0"),
        ((float("nan"),), {}, ValueError, ">= 0"),
        ((1.0,), {"ignore_index": 0}, ValueError, "ignore_index needs"),
    ],
)  # fmt: skip
def test_perplexity_rejects_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        perplexity(*args, **kwargs)


# ---- learning: the metrics track a model that learns --------------------------------------------
def test_accuracy_rises_and_perplexity_falls_while_a_softmax_model_learns():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    centers = 3 * torch.randn(5, 8, generator=g)  # five separable classes
    y = torch.randint(0, 5, (400,), generator=g)
    X = centers[y] + torch.randn(400, 8, generator=g)
    model = torch.nn.Linear(8, 5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with torch.no_grad():
        start_acc, start_ppl = accuracy(model(X), y), perplexity(model(X), y)
    for _ in range(100):
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        optimizer.step()
    with torch.no_grad():
        end_acc, end_ppl = accuracy(model(X), y), perplexity(model(X), y)
    assert end_acc > 0.9 and end_acc > start_acc
    assert end_ppl < 1.5 < start_ppl


# ---- the README section and the benchmark ------------------------------------------------------
def test_benchmark_runs_with_tiny_sizes(capsys):
    path = PACKAGE / "benchmarks" / "bench_metrics.py"
    spec = importlib.util.spec_from_file_location("bench_metrics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ratios = module.main(segments=20, repeats=3)
    assert set(ratios) == {"corpus_bleu_13a_vs_sacrebleu", "corpus_bleu_none_vs_sacrebleu"}
    assert all(r > 0 for r in ratios.values())
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("{")
