"""Tests for dllab.core.data.archive: safe extraction, limits and hostile archives."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from dllab.core.data.archive import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBERS,
    UnsafeArchiveError,
    extract_archive,
)


def listing(folder: Path) -> list[str]:
    """Every entry below ``folder`` (hidden temp folders included), relative and sorted."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---- extract_archive: valid archives -----------------------------------------------------------
def add_file(tar: tarfile.TarFile, name: str, data: bytes = b"content") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_link(tar: tarfile.TarFile, name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    tar.addfile(info)


def make_tar(path: Path, build, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        build(tar)
    return path


def good_tree(tar: tarfile.TarFile) -> None:
    add_file(tar, "data/a.txt", b"alpha")
    add_file(tar, "data/sub/b.txt", b"beta")
    add_link(tar, "data/link.txt", "sub/b.txt")
    add_link(tar, "data/hard.txt", "data/a.txt", tarfile.LNKTYPE)


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz"])
def test_extract_tar(tmp_path, suffix):
    mode = "w" if suffix == ".tar" else "w:gz"
    archive = make_tar(tmp_path / f"good{suffix}", good_tree, mode)
    target = extract_archive(archive, tmp_path / "out")
    assert (target / "data" / "a.txt").read_bytes() == b"alpha"
    assert (target / "data" / "link.txt").read_bytes() == b"beta"
    assert (target / "data" / "link.txt").is_symlink()
    assert (target / "data" / "hard.txt").read_bytes() == b"alpha"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_extract_zip_and_replace_existing_entries(tmp_path):
    archive = tmp_path / "good.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/a.txt", "new")
        zf.writestr("data/sub/", "")
    target = tmp_path / "out"
    (target / "data").mkdir(parents=True)
    (target / "data" / "old.txt").write_text("old")
    (target / "keep.txt").write_text("keep")
    extract_archive(archive, target)
    assert listing(target) == ["data", "data/a.txt", "data/sub", "keep.txt"]
    assert (target / "data" / "a.txt").read_text() == "new"


# ---- extract_archive: hostile archives ---------------------------------------------------------
HOSTILE_TARS = {
    "absolute path": lambda t: add_file(t, "/tmp/dllab-evil.txt"),
    "dot-dot": lambda t: (add_file(t, "ok.txt"), add_file(t, "a/../../evil.txt")),
    "absolute symlink": lambda t: add_link(t, "link", "/etc/passwd"),
    "escaping symlink": lambda t: add_link(t, "a/link", "../../outside"),
    "escaping hardlink": lambda t: add_link(t, "hard", "../outside.txt", tarfile.LNKTYPE),
    "absolute hardlink": lambda t: add_link(t, "hard", "/etc/passwd", tarfile.LNKTYPE),
    "write through symlink": lambda t: (add_link(t, "d", "."), add_file(t, "d/x.txt")),
    "symlink chain": lambda t: (add_link(t, "b", "."), add_link(t, "a", "b/..")),
    "hardlink to a missing member": lambda t: add_link(t, "hard", "nowhere", tarfile.LNKTYPE),
    "hardlink to a later member": lambda t: (
        add_link(t, "hard", "later.txt", tarfile.LNKTYPE),
        add_file(t, "later.txt"),
    ),
    "hardlink to a folder": lambda t: (
        add_link(t, "dir", "", tarfile.DIRTYPE),
        add_link(t, "hard", "dir", tarfile.LNKTYPE),
    ),
    "fifo": lambda t: add_link(t, "pipe", "", tarfile.FIFOTYPE),
    "device": lambda t: add_link(t, "dev", "", tarfile.CHRTYPE),
}


@pytest.mark.parametrize("data_filter", [True, False], ids=["filter", "no-filter"])
@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_extract_refuses_hostile_tar_and_leaves_target_untouched(
    tmp_path, monkeypatch, case, data_filter
):
    if not data_filter:  # our own checks alone, as on a Python without tarfile's filters
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = make_tar(tmp_path / "evil.tar.gz", HOSTILE_TARS[case])
    target = tmp_path / "area" / "out"
    target.mkdir(parents=True)
    (target / "existing.txt").write_text("mine")
    (tmp_path / "outside.txt").write_text("outside")
    with pytest.raises(UnsafeArchiveError, match=r"evil\.tar\.gz"):
        extract_archive(archive, target)
    assert listing(tmp_path / "area") == ["out", "out/existing.txt"]  # no staging folder
    assert (tmp_path / "outside.txt").read_text() == "outside"


@pytest.mark.parametrize(
    ("name", "content", "mode"),
    [
        ("../evil.txt", b"x", 0o100644),
        ("/abs/evil.txt", b"x", 0o100644),
        ("a\\..\\..\\evil.txt", b"x", 0o100644),
        ("link", b"../../etc/passwd", 0o120777),  # a symlink entry pointing outside
    ],
)
def test_extract_refuses_hostile_zip(tmp_path, name, content, mode):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        zf.writestr(info, content)
    with pytest.raises(UnsafeArchiveError, match=r"evil\.zip"):
        extract_archive(archive, tmp_path / "out")
    assert listing(tmp_path) == ["evil.zip"]


def test_extract_rejects_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="archive not found"):
        extract_archive(tmp_path / "missing.tar.gz", tmp_path / "out")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not an archive" * 10)
    with pytest.raises(ValueError, match="not a tar or zip archive"):
        extract_archive(junk, tmp_path / "out")
    archive = make_tar(tmp_path / "good.tar", good_tree, "w")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[:700])  # the first member is there, its data is not
    with pytest.raises(ValueError, match="not a readable tar archive"):
        extract_archive(cut, tmp_path / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        extract_archive(archive, tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cut.tar",
        "file",
        "good.tar",
        "junk.tar.gz",
    ]


# ---- extract_archive: limits -------------------------------------------------------------------
def prepared_target(tmp_path: Path) -> Path:
    target = tmp_path / "area" / "out"
    target.mkdir(parents=True)
    (target / "existing.txt").write_text("mine")
    return target


def assert_untouched(tmp_path: Path) -> None:
    assert listing(tmp_path / "area") == ["out", "out/existing.txt"]  # no staging folder


def test_limits_are_inclusive_and_count_hardlinks_as_copies(tmp_path):
    # good_tree: 4 members; a.txt (5 bytes) + b.txt (4) + a hardlink to a.txt (5) = 14 bytes
    archive = make_tar(tmp_path / "good.tar.gz", good_tree)
    extract_archive(archive, tmp_path / "ok", max_members=4, max_bytes=14)
    assert (tmp_path / "ok" / "data" / "hard.txt").read_bytes() == b"alpha"
    with pytest.raises(UnsafeArchiveError, match="max_bytes=13"):
        extract_archive(archive, tmp_path / "bytes", max_bytes=13)
    with pytest.raises(UnsafeArchiveError, match="max_members=3"):
        extract_archive(archive, tmp_path / "count", max_members=3)
    assert not (tmp_path / "bytes").exists() and not (tmp_path / "count").exists()


def test_tar_bomb_by_bytes_is_refused_before_extraction(tmp_path):
    archive = make_tar(tmp_path / "bomb.tar.gz", lambda t: add_file(t, "zeros", bytes(2**21)))
    assert archive.stat().st_size < 10_000  # 2 MiB of zeros compress to a few KB
    target = prepared_target(tmp_path)
    with pytest.raises(UnsafeArchiveError, match=r"bomb\.tar\.gz.*max_bytes=1048576"):
        extract_archive(archive, target, max_bytes=2**20)
    assert_untouched(tmp_path)


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_bomb_by_member_count_is_refused(tmp_path, kind):
    archive = tmp_path / f"many.{kind}"
    if kind == "tar":
        make_tar(archive, lambda t: [add_file(t, f"f{i}", b"") for i in range(50)])
    else:
        with zipfile.ZipFile(archive, "w") as zf:
            for i in range(50):
                zf.writestr(f"f{i}", b"")
    target = prepared_target(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="max_members=20"):
        extract_archive(archive, target, max_members=20)
    assert_untouched(tmp_path)
    extract_archive(archive, target, max_members=50)
    assert len(listing(target)) == 51


def write_zero_zip(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(size))
    return path


def test_zip_bomb_by_declared_size_is_refused_before_writing(tmp_path, monkeypatch):
    archive = write_zero_zip(tmp_path / "bomb.zip", 210_000)  # grows about 1000-fold
    assert archive.stat().st_size < 1_000
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("read a member"))
    target = prepared_target(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="max_bytes=100000"):
        extract_archive(archive, target, max_bytes=100_000)
    assert_untouched(tmp_path)


def test_zip_lying_about_its_size_is_refused(tmp_path):
    """Headers that claim 1000 bytes for 210 kB: never more than the claim is written."""
    archive = write_zero_zip(tmp_path / "liar.zip", 210_000)
    data = bytearray(archive.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)  # uncompressed size, local header
    struct.pack_into("<I", data, central + 24, 1000)  # uncompressed size, central directory
    archive.write_bytes(bytes(data))
    target = prepared_target(tmp_path)
    with pytest.raises(ValueError, match=r"liar\.zip is not a readable zip archive.*CRC"):
        extract_archive(archive, target, max_bytes=10_000)
    assert_untouched(tmp_path)


def test_zip_bytes_are_counted_as_they_are_written(tmp_path, monkeypatch):
    """Should a reader yield more than the headers claim, the written bytes still count."""
    archive = tmp_path / "small.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.bin", b"x" * 100)
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: io.BytesIO(bytes(5000)))
    target = prepared_target(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="max_bytes=1000"):
        extract_archive(archive, target, max_bytes=1000)
    assert_untouched(tmp_path)


def test_default_limits_fit_the_real_datasets():
    # aclImdb, the largest: about 100k files and 500 MB unpacked; room to spare for both
    assert DEFAULT_MAX_MEMBERS >= 2 * 100_000 and DEFAULT_MAX_BYTES >= 4 * 500 * 10**6


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_members": 0}, ValueError),
        ({"max_bytes": -1}, ValueError),
        ({"max_bytes": 1.5}, TypeError),
        ({"max_members": True}, TypeError),
    ],
)
def test_bad_limits(tmp_path, kwargs, error):
    archive = make_tar(tmp_path / "good.tar", good_tree, "w")
    with pytest.raises(error, match=next(iter(kwargs))):
        extract_archive(archive, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
