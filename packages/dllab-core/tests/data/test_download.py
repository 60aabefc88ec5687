"""Tests for dllab.core.data.download against a local HTTP server (no network)."""

from __future__ import annotations

import hashlib
import io
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import tqdm

import dllab.core
from dllab.core.data import archive
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
SHA1 = hashlib.sha1(PAYLOAD).hexdigest()


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
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
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
@pytest.mark.parametrize(
    "checksum", [SHA256, f"sha256:{SHA256}", f"md5:{MD5}", f"MD5:{MD5}", f"sha1:{SHA1}"]
)
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


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5"])
def test_checksum_mismatch_names_both_digests_and_leaves_no_file(server, tmp_path, algorithm):
    wrong = hashlib.new(algorithm, b"something else").hexdigest()
    got = hashlib.new(algorithm, PAYLOAD).hexdigest()
    with pytest.raises(ChecksumError, match=f"expected {algorithm} {wrong}, got {got}"):
        download(server.url(), f"{algorithm}:{wrong}", tmp_path / "root", retries=3, backoff=0)
    assert len(server.requests) == 1  # a mismatch is not a network error: no retry
    assert listing(tmp_path / "root") == []


def test_mismatch_keeps_a_present_stale_file_as_it_was(server, tmp_path):
    (tmp_path / "file.bin").write_bytes(b"stale")
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumError):
        download(server.url(), wrong, tmp_path, backoff=0)
    assert listing(tmp_path) == ["file.bin"] and (tmp_path / "file.bin").read_bytes() == b"stale"


def test_retries_wait_with_exponential_backoff(server, tmp_path, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr("dllab.core.data.download.time.sleep", waits.append)
    server.fail_first = 2
    path = download(server.url(), SHA256, tmp_path, retries=3, backoff=0.5)
    assert path.read_bytes() == PAYLOAD
    assert waits == [0.5, 1.0] and len(server.requests) == 3
    server.fail_first, waits[:] = 10, []
    with pytest.raises(DownloadError, match="after 4 attempts"):
        download(server.url(), SHA256, tmp_path / "other", retries=3, backoff=0.25)
    assert waits == [0.25, 0.5, 1.0]


def test_an_interrupted_download_leaves_nothing(server, tmp_path, monkeypatch):
    def interrupted(self, chunk_size=1, decode_unicode=False):
        yield b"partial data"
        raise KeyboardInterrupt

    monkeypatch.setattr(requests.Response, "iter_content", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download(server.url(), SHA256, tmp_path / "root", retries=3, backoff=0)
    assert len(server.requests) == 1  # an interrupt is not retried
    assert listing(tmp_path / "root") == []


def test_progress_bar_counts_the_bytes(server, tmp_path, monkeypatch):
    bars: list[tqdm.tqdm] = []

    class Recorder(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            self.asked_disable = kwargs["disable"]  # None: off a terminal only; True: never
            super().__init__(*args, **{**kwargs, "disable": False, "file": io.StringIO()})
            bars.append(self)

    monkeypatch.setattr(tqdm, "tqdm", Recorder)
    download(server.url(), SHA256, tmp_path)
    assert len(bars) == 1 and bars[0].total == bars[0].n == len(PAYLOAD)
    assert bars[0].asked_disable is None and bars[0].delay > 0
    download(server.url(), SHA256, tmp_path / "quiet", progress=False)
    assert len(bars) == 2 and bars[1].asked_disable is True


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
        (("http://x/f", f"sha1:{SHA256}"), {}, ValueError, "not a valid sha1"),
        (("http://x/f", f"crc32:{MD5[:8]}"), {}, ValueError, "sha256, sha1 or md5"),
        (("http://x/f", None), {}, TypeError, "checksum must be a string"),
        (("gopher://x/f", SHA256), {}, ValueError, "url must be"),
        (("/local/path", SHA256), {}, ValueError, "url must be"),
        (("http://x/", SHA256), {}, ValueError, "file name"),
        (("http://x/f", SHA256), {"filename": "../f"}, ValueError, "file name"),
        (("http://x/f", SHA256), {"retries": -1}, ValueError, "retries"),
        (("http://x/f", SHA256), {"timeout": 0}, ValueError, "timeout"),
        (("http://x/f", SHA256), {"timeout": float("nan")}, ValueError, "timeout"),
        (("http://x/f", SHA256), {"backoff": -1}, ValueError, "backoff"),
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
    assert parse_checksum(f"Sha1:{SHA1}") == ("sha1", SHA1)


def test_extraction_is_importable_from_here_and_from_the_core():
    assert extract_archive is archive.extract_archive is dllab.core.extract_archive
    assert UnsafeArchiveError is archive.UnsafeArchiveError is dllab.core.UnsafeArchiveError


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
