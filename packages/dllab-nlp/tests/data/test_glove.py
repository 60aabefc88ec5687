"""load_glove on a tiny GloVe file: found rows as written, seeded vectors for the rest."""

from __future__ import annotations

import pytest
import torch

from dllab.nlp.data.glove import load_glove
from dllab.nlp.special import SPECIAL_TOKENS

GLOVE = """the 0.1 0.2 -0.3
good 1.0 0.5 0.25
bad -1.0 -0.5 -0.25
good 9.0 9.0 9.0
"""


@pytest.fixture
def glove_file(tmp_path):
    path = tmp_path / "glove.tiny.3d.txt"
    path.write_text(GLOVE, encoding="utf-8")
    return path


def test_found_words_get_their_vectors_and_the_rest_seeded_random_ones(glove_file):
    tokens = [*SPECIAL_TOKENS, "good", "movie", "bad"]
    weights, found = load_glove(glove_file, tokens, seed=0)
    assert weights.shape == (10, 3) and weights.dtype == torch.float32 and found == 2
    assert weights[7].tolist() == [1.0, 0.5, 0.25]  # the first "good" line wins
    assert weights[9].tolist() == [-1.0, -0.5, -0.25]
    assert (weights[0] == 0).all()  # <pad>
    assert weights[8].abs().sum() > 0  # "movie" is missing: random
    again, _ = load_glove(glove_file, tokens, seed=0)
    other, _ = load_glove(glove_file, tokens, seed=1)
    assert torch.equal(again, weights) and not torch.equal(other[8], weights[8])
    assert torch.equal(other[7], weights[7])


def test_a_word2vec_header_line_is_skipped(tmp_path, glove_file):
    path = tmp_path / "with_header.txt"
    path.write_text("3 3\n" + GLOVE)
    weights, found = load_glove(path, [*SPECIAL_TOKENS, "the"])
    assert found == 1 and weights[7].tolist() == pytest.approx([0.1, 0.2, -0.3])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no vectors"),
        ("the 0.1 0.2\nbad 0.3\n", "line 2: expected a word and 2 numbers"),
        ("the 0.1 0.2\nbad 0.3 x\n", "line 2: not a GloVe vector"),
        ("lonely\n", "line 1: not a GloVe line"),
    ],
)
def test_malformed_files_are_refused_naming_the_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_glove(path, [*SPECIAL_TOKENS, "the"])


def test_missing_file_and_empty_vocabulary_are_refused(tmp_path, glove_file):
    with pytest.raises(FileNotFoundError, match="no GloVe file"):
        load_glove(tmp_path / "missing.txt", ["a"])
    with pytest.raises(ValueError, match="non-empty"):
        load_glove(glove_file, [])
