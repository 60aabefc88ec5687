"""Tests for dllab.core.data.download against a local HTTP server and hand-made archives."""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dllab.core.data.download import (
    ChecksumError,
    DownloadError,
    UnsafeArchiveError,
    check_file,
    download,
    extract_archive,
    parse_checksum,
    require_path,
)

PAYLOAD = random.Random(0).randbytes(3000) + b"dllab"  # fixed: test ids show digests
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class FileServer(ThreadingHTTPServer):
    """Serves ``files`` by path; fails or truncates the first requests when told to."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {"/data/file.bin": PAYLOAD}
        self.fail_first = 0  # answer 503 to this many requests
        self.drop_first = 0  # close the connection without an answer
        self.truncate_first = 0  # send half the body with the full Content-Length
        self.requests: list[str] = []

    def url(self, path: str = "/data/file.bin") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: FileServer

    def do_GET(self) -> None:
        server = self.server
        server.requests.append(self.path)
        if server.fail_first > 0:
            server.fail_first -= 1
            self.send_error(503, "busy")
            return
        if server.drop_first > 0:
            server.drop_first -= 1
            self.close_connection = True
            return
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404, "not here")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.truncate_first > 0:
            server.truncate_first -= 1
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server():
    httpd = FileServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def listing(folder: Path) -> list[str]:
    """Every entry below ``folder`` (hidden temp files included), relative and sorted."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---- download ----------------------------------------------------------------------------------
@pytest.mark.parametrize("checksum", [SHA256, f"sha256:{SHA256}", f"md5:{MD5}", f"MD5:{MD5}"])
def test_download_fetches_and_verifies(server, tmp_path, checksum):
    path = download(server.url(), checksum, tmp_path / "root", backoff=0)
    assert path == tmp_path / "root" / "file.bin"
    assert path.read_bytes() == PAYLOAD
    assert listing(tmp_path / "root") == ["file.bin"]
    assert check_file(path, checksum)


def test_download_uses_filename(server, tmp_path):
    path = download(server.url(), SHA256, tmp_path, filename="renamed.bin")
    assert path.name == "renamed.bin" and path.read_bytes() == PAYLOAD


def test_present_file_with_right_checksum_skips_the_network(server, tmp_path):
    download(server.url(), SHA256, tmp_path)
    server.files.clear()  # the server has nothing now: a request would fail with 404
    path = download(server.url(), SHA256, tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert server.requests == ["/data/file.bin"]


def test_present_file_with_wrong_checksum_is_downloaded_again(server, tmp_path):
    (tmp_path / "file.bin").write_bytes(b"stale")
    path = download(server.url(), SHA256, tmp_path)
    assert path.read_bytes() == PAYLOAD and len(server.requests) == 1


@pytest.mark.parametrize("failure", ["fail_first", "drop_first", "truncate_first"])
def test_download_retries_network_errors(server, tmp_path, failure):
    setattr(server, failure, 2)
    path = download(server.url(), SHA256, tmp_path, retries=3, backoff=0)
    assert path.read_bytes() == PAYLOAD
    assert len(server.requests) == 3
    assert listing(tmp_path) == ["file.bin"]


def test_download_gives_up_after_retries_and_leaves_nothing(server, tmp_path):
    server.fail_first = 10
    with pytest.raises(DownloadError, match=r"after 3 attempts.*503"):
        download(server.url(), SHA256, tmp_path / "root", retries=2, backoff=0)
    assert len(server.requests) == 3
    assert listing(tmp_path / "root") == []


def test_download_does_not_retry_a_missing_file(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        download(server.url("/nope.bin"), SHA256, tmp_path, retries=3, backoff=0)
    assert server.requests == ["/nope.bin"]
    assert listing(tmp_path) == []


def test_checksum_mismatch_names_both_digests_and_leaves_no_file(server, tmp_path):
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumError, match=f"expected sha256 {wrong}, got {SHA256}"):
        download(server.url(), wrong, tmp_path / "root", retries=3, backoff=0)
    assert len(server.requests) == 1  # a mismatch is not a network error: no retry
    assert listing(tmp_path / "root") == []


def test_download_from_a_file_url(tmp_path):
    source = tmp_path / "source" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    path = download(source.as_uri(), f"md5:{MD5}", tmp_path / "root")
    assert path.read_bytes() == PAYLOAD
    with pytest.raises(DownloadError, match="could not download"):
        download((tmp_path / "missing.bin").as_uri(), SHA256, tmp_path / "root", backoff=0)
    assert listing(tmp_path / "root") == ["file.bin"]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("http://x/f", "abc"), {}, ValueError, "not a valid sha256"),
        (("http://x/f", f"md5:{SHA256}"), {}, ValueError, "not a valid md5"),
        (("http://x/f", MD5), {}, ValueError, "md5:<hex>"),
        (("http://x/f", f"sha1:{SHA256}"), {}, ValueError, "sha256 or md5"),
        (("http://x/f", None), {}, TypeError, "checksum must be a string"),
        (("gopher://x/f", SHA256), {}, ValueError, "url must be"),
        (("/local/path", SHA256), {}, ValueError, "url must be"),
        (("http://x/", SHA256), {}, ValueError, "file name"),
        (("http://x/f", SHA256), {"filename": "../f"}, ValueError, "file name"),
        (("http://x/f", SHA256), {"retries": -1}, ValueError, "retries"),
        (("http://x/f", SHA256), {"timeout": 0}, ValueError, "timeout"),
    ],
)
def test_download_rejects_bad_input(tmp_path, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        download(*args, root=tmp_path / "root", **kwargs)
    assert not (tmp_path / "root").exists()


def test_parse_checksum_forms():
    assert parse_checksum(f" SHA256:{SHA256.upper()} ") == ("sha256", SHA256)
    assert parse_checksum(SHA256) == ("sha256", SHA256)
    assert parse_checksum(f"md5:{MD5}") == ("md5", MD5)


# ---- require_path ------------------------------------------------------------------------------
def test_require_path(tmp_path):
    (tmp_path / "here").write_text("x")
    assert require_path(tmp_path / "here", "data") == tmp_path / "here"
    missing = tmp_path / "cifar"
    with pytest.raises(FileNotFoundError) as info:
        require_path(missing, "CIFAR-10")
    message = str(info.value)
    assert str(missing) in message and "CIFAR-10" in message
    assert "download=True" in message and "--download" in message
    with pytest.raises(FileNotFoundError, match="pass --fetch"):
        require_path(missing, "data", flag="--fetch")


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
