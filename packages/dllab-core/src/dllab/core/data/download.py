"""Verified downloads and the "data is missing" error.

- ``download``: fetch a URL through pooch, verify its sha256, sha1 or md5 checksum and
  return the path. pooch streams into a temporary file beside the destination and moves it
  into place only once the checksum matches, so a failed, interrupted or mismatching download
  leaves nothing at the destination. Network errors are retried with exponential backoff; a
  file already present with the right checksum is returned without touching the network.
- ``require_path``: raise a ``FileNotFoundError`` that names the path and the download flag.

Safe extraction lives in ``dllab.core.data.archive``; ``extract_archive`` and
``UnsafeArchiveError`` are importable from here too.
"""

from __future__ import annotations

import ftplib
import hashlib
import logging
import os
import posixpath
import re
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from dllab.core.checks import check_float, check_int
from dllab.core.data.archive import UnsafeArchiveError, extract_archive

__all__ = [
    "ChecksumError",
    "DownloadError",
    "UnsafeArchiveError",
    "check_file",
    "download",
    "extract_archive",
    "file_digest",
    "parse_checksum",
    "require_path",
]

log = logging.getLogger(__name__)

_ALGORITHMS = {"sha256": 64, "sha1": 40, "md5": 32}
_SCHEMES = ("http", "https", "ftp", "file")
_CHUNK = 1 << 20
_HTTP_CHUNK = 1 << 16
_PROGRESS_DELAY = 1.0  # seconds before the progress bar shows: quick downloads stay quiet


class ChecksumError(ValueError):
    """A downloaded file does not have the expected checksum."""


class DownloadError(OSError):
    """A URL could not be fetched, even after retrying."""


# ---- checksums ---------------------------------------------------------------------------------
def parse_checksum(checksum: str) -> tuple[str, str]:
    """Split ``"sha256:<hex>"``, ``"sha1:<hex>"``, ``"md5:<hex>"`` or a bare sha256 hex.

    Returns:
        ``(algorithm, hex)``, both lower case.
    """
    if not isinstance(checksum, str):
        raise TypeError(f"checksum must be a string, got {type(checksum).__name__}")
    algorithm, _, digest = checksum.strip().rpartition(":")
    algorithm = algorithm.lower() or "sha256"
    digest = digest.lower()
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"checksum algorithm must be sha256, sha1 or md5, got {checksum!r}")
    if not re.fullmatch(f"[0-9a-f]{{{_ALGORITHMS[algorithm]}}}", digest):
        raise ValueError(
            f"checksum {checksum!r} is not a valid {algorithm} hex digest "
            f"({_ALGORITHMS[algorithm]} hex characters; write md5 and sha1 digests as "
            "'md5:<hex>' and 'sha1:<hex>')"
        )
    return algorithm, digest


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def check_file(path: str | os.PathLike[str], checksum: str) -> bool:
    """True when ``path`` is a file whose digest equals ``checksum``."""
    algorithm, expected = parse_checksum(checksum)
    return Path(path).is_file() and file_digest(path, algorithm) == expected


# ---- download ----------------------------------------------------------------------------------
def download(
    url: str,
    checksum: str,
    root: str | os.PathLike[str],
    filename: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 1.0,
    *,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``root/filename`` and verify it; return the path.

    Args:
        url: an http(s), ftp or file URL.
        checksum: ``"sha256:<hex>"``, ``"sha1:<hex>"``, ``"md5:<hex>"`` or a bare sha256 hex.
        root: destination folder (created if missing).
        filename: destination file name; defaults to the last part of the URL path.
        retries: how many times to retry after a network error (``0`` tries once).
        timeout: socket timeout of each attempt, in seconds.
        backoff: the wait before retry ``i`` (from 0) is ``backoff * 2**i`` seconds.
        progress: show a progress bar (on stderr) for downloads that take over a second.

    Raises:
        ValueError: on a bad URL, checksum, file name or setting.
        ChecksumError: if the downloaded bytes have another digest (nothing is saved; not
            retried).
        DownloadError: if every attempt failed, or the server answered with a client error.
    """
    import pooch

    algorithm, expected = parse_checksum(checksum)
    scheme = urllib.parse.urlsplit(url).scheme if isinstance(url, str) else None
    if scheme not in _SCHEMES:
        raise ValueError(f"url must be a {'/'.join(_SCHEMES)} URL, got {url!r}")
    retries = check_int(retries, "retries", min=0)
    timeout = check_float(timeout, "timeout", min=0.0, min_open=True)
    backoff = check_float(backoff, "backoff", min=0.0)
    name = filename or posixpath.basename(urllib.parse.urlsplit(url).path)
    if not name or name in {".", ".."} or "/" in name or "\\" in name:
        raise ValueError(f"cannot use {name!r} as a file name; pass filename=")
    folder = Path(root).expanduser()
    fetch = _VerifyingFetch(scheme, algorithm, timeout, progress)
    attempt = 0
    while True:
        try:
            pooch.retrieve(url, f"{algorithm}:{expected}", name, folder, downloader=fetch)
            return folder / name
        except ValueError as error:  # pooch's hash check, after the temp file is deleted
            if fetch.digest is None or fetch.digest == expected:
                raise
            raise ChecksumError(
                f"checksum mismatch for {url}: expected {algorithm} {expected}, "
                f"got {fetch.digest}; nothing was saved"
            ) from error
        except Exception as error:
            if not _is_transient(error):
                raise DownloadError(f"could not download {url}: {error}") from error
            if attempt == retries:
                raise DownloadError(
                    f"could not download {url} after {retries + 1} attempts: {error}"
                ) from error
            wait = backoff * 2**attempt
            log.warning("download of %s failed (%s); retrying in %.1f s", url, error, wait)
            time.sleep(wait)
            attempt += 1


class _VerifyingFetch:
    """A pooch downloader for one URL scheme that records the digest of what it fetched."""

    def __init__(self, scheme: str, algorithm: str, timeout: float, progress: bool) -> None:
        self.scheme, self.algorithm = scheme, algorithm
        self.timeout, self.progress = timeout, progress
        self.digest: str | None = None

    def __call__(self, url: str, output_file: str, pooch: Any) -> None:
        import pooch as pooch_lib
        from tqdm import tqdm

        self.digest = None
        if self.scheme == "file":
            _copy_file_url(url, output_file)
        elif self.scheme == "ftp":  # pooch's FTP downloader takes no custom progress bar
            pooch_lib.FTPDownloader(timeout=self.timeout)(url, output_file, pooch)
        else:
            # total=1 keeps the bar truthy for pooch until it learns the real size; disable=None
            # hides it off a terminal, and delay hides it for downloads that finish quickly
            bar = tqdm(
                total=1,
                unit="B",
                unit_scale=True,
                leave=False,
                delay=_PROGRESS_DELAY,
                disable=None if self.progress else True,
            )
            http = pooch_lib.HTTPDownloader(
                timeout=self.timeout, progressbar=bar, chunk_size=_HTTP_CHUNK
            )
            try:
                http(url, output_file, pooch)
            finally:
                bar.close()
        self.digest = file_digest(output_file, self.algorithm)


def _copy_file_url(url: str, output_file: str) -> None:
    source = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
    with open(source, "rb") as src, open(output_file, "wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)


def _is_transient(error: BaseException) -> bool:
    """Worth retrying: a dropped or timed-out connection, or a temporary server failure."""
    import requests

    if isinstance(error, requests.HTTPError):
        code = error.response.status_code if error.response is not None else 0
        return code in (408, 429) or code >= 500
    if isinstance(error, ftplib.error_perm | FileNotFoundError | PermissionError):
        return False
    return isinstance(error, requests.RequestException | ftplib.Error | OSError | EOFError)


# ---- missing data ------------------------------------------------------------------------------
def require_path(path: str | os.PathLike[str], what: str, flag: str = "download=True") -> Path:
    """Return ``path`` if it exists, else raise ``FileNotFoundError`` naming it and ``flag``.

    Args:
        path: the file or folder the caller needs.
        what: what it is, for the message (``"Fashion-MNIST"``).
        flag: how to fetch it; the default also mentions the ``--download`` CLI option.
    """
    path = Path(path).expanduser()
    if path.exists():
        return path
    how = f"pass {flag}"
    if flag == "download=True":
        how += " (or --download on the command line)"
    raise FileNotFoundError(f"{what} not found at {path}; {how} to fetch it")
