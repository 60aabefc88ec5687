"""Safe archive extraction: no escaping paths, no bombs, nothing half-extracted.

``extract_archive`` unpacks a tar (``.tar``, ``.tar.gz``, ``.tgz``, ...) or zip archive into a
folder. Every member is checked before anything is written: absolute paths, ``..``
components, paths through a symlink, links resolving outside the archive, hardlinks to
nothing, device files and pipes are refused, and so is an archive whose declared contents
exceed ``max_members`` entries or ``max_bytes`` unpacked bytes. Zip members are streamed with
the bytes actually written counted against the same limit. Tar extraction also uses
tarfile's ``data`` filter (PEP 706). The archive is unpacked into a temporary folder beside
the target and moved in only when complete, so any error leaves the target as it was.

The default limits let the real datasets through with room to spare: CIFAR-10 unpacks to
about 180 MB in 8 files, aclImdb to about 500 MB in 100k files, WikiText-2 to about 13 MB.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from dllab.core.checks import check_positive_int

DEFAULT_MAX_MEMBERS = 200_000
"""Most archive entries (files, folders and links) ``extract_archive`` accepts by default."""
DEFAULT_MAX_BYTES = 2 * 1024**3
"""Most unpacked bytes (2 GiB) ``extract_archive`` accepts by default."""
_CHUNK = 1 << 20


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target, or the archive exceeds a limit."""


def extract_archive(
    archive: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """Extract a tar or zip archive into ``target`` safely and atomically; return ``target``.

    Top-level entries of the archive replace entries of the same name in ``target``; other
    entries of ``target`` are kept.

    Args:
        archive: the tar or zip file.
        target: the folder to extract into (created if missing).
        max_members: most entries (files, folders, links) the archive may hold.
        max_bytes: most bytes its files may unpack to (a hardlink counts as a copy).

    Raises:
        FileNotFoundError: if ``archive`` does not exist.
        ValueError: if it is not a readable tar or zip archive, or a limit is not an int >= 1.
        UnsafeArchiveError: if a member would escape ``target``, or a limit is exceeded.
    """
    max_members = check_positive_int(max_members, "max_members")
    max_bytes = check_positive_int(max_bytes, "max_bytes")
    archive, target = Path(archive), Path(target).expanduser()
    if not archive.is_file():
        raise FileNotFoundError(f"archive not found: {archive}")
    if target.exists() and not target.is_dir():
        raise ValueError(f"extraction target {target} exists and is not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.extract-"))
    budget = _Budget(archive, max_members, max_bytes)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, staging, budget)
        elif _is_tar(archive):
            _extract_tar(archive, staging, budget)
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


class _Budget:
    """Counts members and bytes against the limits; raises naming the limit exceeded."""

    def __init__(self, archive: Path, max_members: int, max_bytes: int) -> None:
        self.archive, self.max_members, self.max_bytes = archive, max_members, max_bytes
        self.members = self.bytes = 0

    def add_member(self, size: int) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise UnsafeArchiveError(
                f"{self.archive}: more than max_members={self.max_members} entries; "
                "pass a larger max_members if the archive is trusted"
            )
        self.add_bytes(size)

    def add_bytes(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise UnsafeArchiveError(
                f"{self.archive}: unpacks to more than max_bytes={self.max_bytes} bytes; "
                "pass a larger max_bytes if the archive is trusted"
            )


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


def _link_parts(
    member: tuple[str, ...], link: str, relative_to_member: bool, archive: Path
) -> tuple[str, ...]:
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


def _check_through_symlinks(
    paths: Iterable[tuple[tuple[str, ...], str]], symlinks: set[tuple[str, ...]], archive: Path
) -> None:
    """Refuse any path whose parent folders include a symlink member."""
    for parts, shown in paths:
        for i in range(1, len(parts)):
            if parts[:i] in symlinks:
                raise UnsafeArchiveError(
                    f"{archive}: {shown!r} goes through the symlink {'/'.join(parts[:i])!r}"
                )


def _scan_tar(tar: tarfile.TarFile, archive: Path, budget: _Budget) -> list[tarfile.TarInfo]:
    """Read the members one by one, checking each; stop at the first one over a limit."""
    members: list[tarfile.TarInfo] = []
    paths: list[tuple[tuple[str, ...], str]] = []
    files: dict[tuple[str, ...], int] = {}  # regular files seen so far -> size
    symlinks: set[tuple[str, ...]] = set()
    for member in tar:
        parts = _member_parts(member.name, archive)
        paths.append((parts, member.name))
        size = 0
        if member.issym():
            _link_parts(parts, member.linkname, True, archive)
            symlinks.add(parts)
        elif member.islnk():
            linked = _link_parts(parts, member.linkname, False, archive)
            if linked not in files:
                raise UnsafeArchiveError(
                    f"{archive}: hardlink {member.name!r} -> {member.linkname!r} does not "
                    "point to an earlier file of the archive"
                )
            paths.append((linked, f"{member.name} -> {member.linkname}"))
            size = files[parts] = files[linked]
        elif member.isfile():
            size = files[parts] = member.size
        elif not member.isdir():
            raise UnsafeArchiveError(
                f"{archive}: member {member.name!r} is a device or pipe, not a file"
            )
        budget.add_member(size)
        members.append(member)
    _check_through_symlinks(paths, symlinks, archive)
    return members


def _extract_tar(archive: Path, staging: Path, budget: _Budget) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _scan_tar(tar, archive, budget)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, members=members, filter="data")
            else:  # Python 3.11.0-3.11.3 predate extraction filters: the scan alone guards
                tar.extractall(staging, members=members)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        if isinstance(error, getattr(tarfile, "FilterError", ())):
            raise UnsafeArchiveError(f"{archive}: {error}") from error
        raise ValueError(f"{archive} is not a readable tar archive: {error}") from error


def _extract_zip(archive: Path, staging: Path, budget: _Budget) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            paths: list[tuple[tuple[str, ...], str]] = []
            symlinks: set[tuple[str, ...]] = set()
            for info in infos:
                parts = _member_parts(info.filename, archive)
                paths.append((parts, info.filename))
                if stat.S_ISLNK(info.external_attr >> 16):
                    link = zf.read(info).decode("utf-8", errors="replace")
                    _link_parts(parts, link, True, archive)
                    symlinks.add(parts)
                budget.add_member(info.file_size)  # declared sizes, before writing anything
            _check_through_symlinks(paths, symlinks, archive)
            written = _Budget(archive, budget.max_members, budget.max_bytes)
            for (parts, _), info in zip(paths, infos, strict=True):
                destination = staging.joinpath(*parts)
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, open(destination, "wb") as sink:
                    _copy_counted(source, sink, written)  # links become small text files
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{archive} is not a readable zip archive: {error}") from error


def _copy_counted(source: IO[bytes], sink: IO[bytes], written: _Budget) -> None:
    """Copy in chunks, charging the bytes actually decompressed (headers may lie)."""
    while chunk := source.read(_CHUNK):
        written.add_bytes(len(chunk))
        sink.write(chunk)


def _check_links_inside(staging: Path, archive: Path) -> None:
    """After extraction: every symlink must resolve inside ``staging`` (catches link chains)."""
    root = staging.resolve()
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            entry = Path(dirpath) / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                shown = entry.relative_to(staging)
                raise UnsafeArchiveError(f"{archive}: symlink {shown} resolves outside the target")
