"""Verified downloads, safe archive extraction and the "data is missing" error.

- ``download``: fetch a URL with the standard library into a temporary file next to its
  destination, retry network errors with exponential backoff, verify the checksum, then
  rename into place. A file that already exists with the right checksum is returned without
  touching the network; a failed download leaves nothing behind.
- ``extract_archive``: extract a tar (``.tar``, ``.tar.gz``, ``.tgz``, ...) or zip archive
  after checking every member: no absolute paths, no ``..``, no links leaving the target, no
  device files. Extraction happens in a temporary folder beside the target and is moved in
  only when complete.
- ``require_path``: raise a ``FileNotFoundError`` that names the path and the download flag.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path

log = logging.getLogger(__name__)

_ALGORITHMS = {"sha256": 64, "md5": 32}
_SCHEMES = ("http", "https", "ftp", "file")
_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A downloaded file does not have the expected checksum."""


class DownloadError(OSError):
    """A URL could not be fetched, even after retrying."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the extraction target."""


# ---- checksums ---------------------------------------------------------------------------------
def parse_checksum(checksum: str) -> tuple[str, str]:
    """Split ``"sha256:<hex>"``, ``"md5:<hex>"`` or a bare sha256 hex into ``(algorithm, hex)``."""
    if not isinstance(checksum, str):
        raise TypeError(f"checksum must be a string, got {type(checksum).__name__}")
    algorithm, _, digest = checksum.strip().rpartition(":")
    algorithm = algorithm.lower() or "sha256"
    digest = digest.lower()
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"checksum algorithm must be sha256 or md5, got {checksum!r}")
    if not re.fullmatch(f"[0-9a-f]{{{_ALGORITHMS[algorithm]}}}", digest):
        raise ValueError(
            f"checksum {checksum!r} is not a valid {algorithm} hex digest "
            f"({_ALGORITHMS[algorithm]} hex characters; write md5 digests as 'md5:<hex>')"
        )
    return algorithm, digest


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
) -> Path:
    """Download ``url`` to ``root/filename`` and verify it; return the path.

    Args:
        url: an http(s), ftp or file URL.
        checksum: ``"sha256:<hex>"``, ``"md5:<hex>"`` or a bare sha256 hex digest.
        root: destination folder (created if missing).
        filename: destination file name; defaults to the last part of the URL path.
        retries: how many times to retry after a network error (``0`` tries once).
        timeout: socket timeout of each attempt, in seconds.
        backoff: the wait before retry ``i`` is ``backoff * 2**i`` seconds.

    Raises:
        ValueError: on a bad URL, checksum, file name or setting.
        ChecksumError: if the downloaded bytes have another digest (nothing is left on disk).
        DownloadError: if every attempt failed, or the server answered with a client error.
    """
    algorithm, expected = parse_checksum(checksum)
    scheme = urllib.parse.urlsplit(url).scheme if isinstance(url, str) else None
    if scheme not in _SCHEMES:
        raise ValueError(f"url must be a {'/'.join(_SCHEMES)} URL, got {url!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an int >= 0, got {retries!r}")
    if not timeout > 0 or backoff < 0:
        raise ValueError(f"timeout must be > 0 and backoff >= 0, got {timeout}, {backoff}")
    name = filename or posixpath.basename(urllib.parse.urlsplit(url).path)
    if not name or name in {".", ".."} or "/" in name or "\\" in name:
        raise ValueError(f"cannot use {name!r} as a file name; pass filename=")
    path = Path(root).expanduser() / name
    if path.is_file():
        if file_digest(path, algorithm) == expected:
            return path
        log.warning("%s exists with a different %s; downloading it again", path, algorithm)
    path.parent.mkdir(parents=True, exist_ok=True)

    for attempt in range(retries + 1):
        try:
            got = _fetch(url, path, algorithm, expected, timeout)
            break
        except _RETRYABLE as error:
            if attempt == retries:
                raise DownloadError(
                    f"could not download {url} after {retries + 1} attempts: {error}"
                ) from error
            wait = backoff * 2**attempt
            log.warning("download of %s failed (%s); retrying in %.1f s", url, error, wait)
            time.sleep(wait)
    if got != expected:
        raise ChecksumError(
            f"checksum mismatch for {url}: expected {algorithm} {expected}, got {got}; "
            "nothing was saved"
        )
    return path


class _TransientError(OSError):
    """A transfer ended early or the server had a temporary failure."""


_RETRYABLE = (
    _TransientError,
    urllib.error.URLError,
    http.client.HTTPException,
    TimeoutError,
    ConnectionError,
)


def _fetch(url: str, path: Path, algorithm: str, expected: str, timeout: float) -> str:
    """One attempt: stream ``url`` into a temp file beside ``path`` while hashing it.

    The temp file is renamed to ``path`` only if its digest is ``expected``; otherwise (and on
    any error) it is deleted. Returns the digest.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        digest = hashlib.new(algorithm)
        request = urllib.request.Request(url, headers={"User-Agent": "dllab"})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            if error.code in (408, 429) or error.code >= 500:
                raise _TransientError(f"HTTP {error.code} {error.reason}") from error
            raise DownloadError(
                f"could not download {url}: HTTP {error.code} {error.reason}"
            ) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, FileNotFoundError):  # a file:// URL that is not there
                raise DownloadError(f"could not download {url}: {error.reason}") from error
            raise
        with response, os.fdopen(fd, "wb") as handle:
            fd = -1  # the file object owns it now
            size = 0
            while chunk := response.read(_CHUNK):
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) != size:
                raise _TransientError(f"transfer ended after {size} of {length} bytes")
        got = digest.hexdigest()
        if got == expected:
            os.replace(tmp, path)
        return got
    finally:
        if fd != -1:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)


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


# ---- safe extraction ---------------------------------------------------------------------------
def extract_archive(archive: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Extract a tar or zip archive into ``target`` safely and atomically; return ``target``.

    Every member is checked before anything is written: absolute paths, ``..`` components,
    paths through a symlink, links resolving outside the archive and special files are
    refused with ``UnsafeArchiveError``. Tar extraction also uses tarfile's ``data`` filter.
    The archive is unpacked into a temporary folder beside ``target`` and its top-level
    entries are then moved in (replacing entries of the same name), so an error leaves
    ``target`` as it was.

    Raises:
        FileNotFoundError: if ``archive`` does not exist.
        ValueError: if it is not a readable tar or zip archive.
        UnsafeArchiveError: if a member would escape ``target``.
    """
    archive, target = Path(archive), Path(target).expanduser()
    if not archive.is_file():
        raise FileNotFoundError(f"archive not found: {archive}")
    if target.exists() and not target.is_dir():
        raise ValueError(f"extraction target {target} exists and is not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.extract-"))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, staging)
        elif _is_tar(archive):
            _extract_tar(archive, staging)
        else:
            raise ValueError(f"{archive} is not a tar or zip archive")
        _check_links_inside(staging, archive)
        target.mkdir(exist_ok=True)
        for entry in sorted(staging.iterdir()):
            destination = target / entry.name
            if destination.is_dir() and not destination.is_symlink():
                shutil.rmtree(destination)
            elif destination.exists() or destination.is_symlink():
                destination.unlink()
            os.replace(entry, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _is_tar(archive: Path) -> bool:
    try:
        return tarfile.is_tarfile(archive)
    except (OSError, tarfile.TarError):
        return False


def _member_parts(name: str, archive: Path) -> tuple[str, ...]:
    """The path components of a member name, refusing absolute paths and ``..``."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path")
    parts = tuple(p for p in re.split(r"[/\\]", name) if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} contains a '..' component")
    if not parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an empty path")
    return parts


def _link_parts(member: tuple[str, ...], link: str, relative_to_member: bool, archive: Path):
    """Resolve a link target lexically; refuse one that is absolute or leaves the archive."""
    if link.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", link):
        raise UnsafeArchiveError(f"{archive}: link {'/'.join(member)!r} -> {link!r} is absolute")
    parts = list(member[:-1]) if relative_to_member else []
    for part in re.split(r"[/\\]", link):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise UnsafeArchiveError(
                    f"{archive}: link {'/'.join(member)!r} -> {link!r} points outside the target"
                )
            parts.pop()
        else:
            parts.append(part)
    return tuple(parts)


def _check_through_symlinks(paths: dict[tuple[str, ...], str], symlinks: set, archive: Path):
    """Refuse any path whose parent folders include a symlink member."""
    for parts, shown in paths.items():
        for i in range(1, len(parts)):
            if parts[:i] in symlinks:
                raise UnsafeArchiveError(
                    f"{archive}: {shown!r} goes through the symlink {'/'.join(parts[:i])!r}"
                )


def _extract_tar(archive: Path, staging: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            paths: dict[tuple[str, ...], str] = {}
            symlinks: set[tuple[str, ...]] = set()
            for member in members:
                parts = _member_parts(member.name, archive)
                paths[parts] = member.name
                if member.issym():
                    _link_parts(parts, member.linkname, True, archive)
                    symlinks.add(parts)
                elif member.islnk():
                    target = _link_parts(parts, member.linkname, False, archive)
                    paths[target] = f"{member.name} -> {member.linkname}"
                elif not (member.isfile() or member.isdir()):
                    raise UnsafeArchiveError(
                        f"{archive}: member {member.name!r} is a device or pipe, not a file"
                    )
            _check_through_symlinks(paths, symlinks, archive)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, members=members, filter="data")
            else:  # a Python without extraction filters: our checks alone
                tar.extractall(staging, members=members)
    except tarfile.FilterError as error:
        raise UnsafeArchiveError(f"{archive}: {error}") from error
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ValueError(f"{archive} is not a readable tar archive: {error}") from error


def _extract_zip(archive: Path, staging: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            paths: dict[tuple[str, ...], str] = {}
            symlinks: set[tuple[str, ...]] = set()
            for info in infos:
                parts = _member_parts(info.filename, archive)
                paths[parts] = info.filename
                if stat.S_ISLNK(info.external_attr >> 16):
                    link = zf.read(info).decode("utf-8", errors="replace")
                    _link_parts(parts, link, True, archive)
                    symlinks.add(parts)
            _check_through_symlinks(paths, symlinks, archive)
            zf.extractall(staging, members=infos)  # links become small text files
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{archive} is not a readable zip archive: {error}") from error


def _check_links_inside(staging: Path, archive: Path) -> None:
    """After extraction: every symlink must resolve inside ``staging`` (catches link chains)."""
    root = staging.resolve()
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            entry = Path(dirpath) / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                shown = entry.relative_to(staging)
                raise UnsafeArchiveError(f"{archive}: symlink {shown} resolves outside the target")
