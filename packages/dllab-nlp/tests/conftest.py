"""Shared fixtures: a tiny aclImdb tree and a tiny fra.txt in their published formats.

Lightning adds a log handler bound to the stderr of the moment it is first imported; imported
inside a ``CliRunner`` call, that stream is closed by the next call. Importing it here binds
the handler to the test session's stderr instead.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch  # noqa: F401
import pytest

POSITIVE = [
    "A wonderful film.<br /><br />The acting was superb and the plot was gripping.",
    "I loved it, truly brilliant. The music was beautiful.",
    "The cast was charming and the ending was moving. Great fun!",
    "Not boring at all: a clever, fresh and stunning movie.",
]
NEGATIVE = [
    "An awful film.<br />The plot was dull and the acting was terrible.",
    "I hated it. Boring, predictable and far too long.",
    "The script was weak and the ending was silly. Poor.",
    "Not good at all: a messy, bland and lifeless movie.",
]
LATIN1 = "A charming caf\xe9 scene, a superb na\xefve hero: wonderful.".encode("latin-1")
"""A review that is not valid UTF-8 (the real tree has a few)."""


def write_aclimdb(root: Path, copies: int = 3) -> Path:
    """Write ``root/imdb/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``; returns the tree."""
    tree = root / "imdb" / "aclImdb"
    for split in ("train", "test"):
        for label, texts, rating in (("pos", POSITIVE, 9), ("neg", NEGATIVE, 2)):
            target = tree / split / label
            target.mkdir(parents=True)
            for i in range(copies):
                for j, text in enumerate(texts):
                    index = i * len(texts) + j
                    (target / f"{index}_{rating}.txt").write_text(text, encoding="utf-8")
        (tree / split / "pos" / "999_10.txt").write_bytes(LATIN1)
    (tree / "README").write_text("Large Movie Review Dataset v1.0 (fixture)\n")
    return tree


@pytest.fixture
def imdb_root(tmp_path):
    """A data root holding a tiny aclImdb tree (13 reviews per class and split)."""
    root = tmp_path / "data"
    write_aclimdb(root)
    return root


# The published fra.txt (manythings.org) has an attribution column; d2l's copy has two columns.
FRA_LINES = [
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)",
    "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)",
    "Run!\tCours\u202f!\tCC-BY 2.0 (France) Attribution: tatoeba.org #906328 (papabear)",
    "Who?\tQui ?",
    "Wow!\tÇa alors\xa0!",
    "a line without any tab",
    "",
    "I see.\tJe comprends.",
    "I try.\tJ'essaye.",
    "I won!\tJ'ai gagné !",
    "Go on.\tPoursuis.",
    "Hello!\tBonjour !",
    "He ran.\tIl a couru.",
    "Stop!\tArrête-toi !",
]


def write_fra_eng(root: Path) -> Path:
    """Write ``root/fra-eng/fra.txt`` in the published format; returns the file."""
    path = root / "fra-eng" / "fra.txt"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(FRA_LINES) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fra_root(tmp_path):
    """A data root holding ``fra-eng/fra.txt`` (12 pairs, a line without a tab, an empty one)."""
    write_fra_eng(tmp_path / "data")
    return tmp_path / "data"
