"""Reading raw emails from files: .eml files, mbox files, Maildir folders and directories.

Only regular files are read. A FIFO would block the reader forever, a socket or device
is not mail, and a broken symlink, a symlink loop or an unreadable file must not stop
the rest of an import: each is skipped and reported in ``skipped``. A directory reached
a second time (a symlink to a parent) is read once.
"""

from __future__ import annotations

import errno
import mailbox
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _


def _natural(key: str) -> list:
    """Maildir keys ("1732270000.M98765P42Q3.host") in delivery order: their numbers compare
    as numbers, since the microseconds are not zero-padded."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


@dataclass(frozen=True)
class Skipped:
    """A path that was not read, and why."""

    path: str
    reason: str


class NotReadable(Exception):
    """The path is no regular file we can read; the message says why."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return _("FIFO")
    if stat.S_ISSOCK(mode):
        return _("Socket")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("Gerätedatei")
    return _("keine reguläre Datei")


def _os_reason(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ELOOP:
        return _("Symlink-Schleife")
    if exc.errno == errno.ENOENT and path.is_symlink():
        return _("Symlink ins Leere")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return _("keine Leseberechtigung")
    return exc.strerror or type(exc).__name__


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()  # follows symlinks: a link to a file is the file
    except OSError as exc:
        raise NotReadable(_os_reason(exc, path)) from exc


def read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file. Opened non-blocking and checked on the open handle,
    so a FIFO put in place after a check cannot block us either."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise NotReadable(_os_reason(exc, path)) from exc
    with open(fd, "rb", closefd=True) as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotReadable(_kind(mode))
        try:
            return handle.read()
        except OSError as exc:
            raise NotReadable(_os_reason(exc, path)) from exc


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def is_mbox(path: Path) -> bool:
    if path.suffix.lower() == ".mbox":
        return True
    if path.suffix.lower() in (".eml", ".msg", ".txt"):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return False
    with open(fd, "rb", closefd=True) as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return False
        return handle.read(5) == b"From "


def _maildir_files(path: Path) -> list[tuple[str, Path]]:
    """(key, file) of every message in new/ and cur/, in delivery order. As the stdlib's
    Maildir lists them, but we open the files ourselves (it would block on a FIFO)."""
    colon = mailbox.Maildir.colon
    found: dict[str, Path] = {}
    for sub in ("new", "cur"):
        for entry in os.listdir(path / sub):
            if (path / sub / entry).is_dir():
                continue
            found[entry.split(colon)[0]] = path / sub / entry
    return [(key, found[key]) for key in sorted(found, key=_natural)]


def iter_raw_emails(
    path: Path, skipped: list[Skipped] | None = None, *, _seen: set | None = None
) -> Iterator[tuple[str, bytes]]:
    """(source, raw bytes) for every message below path, in a stable order. What cannot be
    read is appended to ``skipped`` (when given) and the walk goes on."""
    skipped = skipped if skipped is not None else []
    seen = _seen if _seen is not None else set()
    try:
        info = _stat(path)
        if stat.S_ISDIR(info.st_mode):
            if (info.st_dev, info.st_ino) in seen:
                raise NotReadable(_("Verzeichnis schon gelesen (Symlink-Schleife)"))
            seen.add((info.st_dev, info.st_ino))
            yield from _iter_directory(path, skipped, seen)
        elif not stat.S_ISREG(info.st_mode):
            raise NotReadable(_kind(info.st_mode))
        elif is_mbox(path):
            yield from _iter_mbox(path)
        else:
            yield str(path), read_regular_file(path)
    except NotReadable as exc:
        skipped.append(Skipped(str(path), str(exc)))
    except OSError as exc:  # listing a directory, opening an mbox
        skipped.append(Skipped(str(path), _os_reason(exc, path)))


def _iter_directory(path: Path, skipped: list[Skipped], seen: set) -> Iterator[tuple[str, bytes]]:
    if is_maildir(path):
        for key, file in _maildir_files(path):
            try:
                raw = read_regular_file(file)
            except NotReadable as exc:
                skipped.append(Skipped(str(file), str(exc)))
                continue
            yield f"{path}#{key}", raw
        return
    for child in sorted(c for c in path.iterdir() if not c.name.startswith(".")):
        yield from iter_raw_emails(child, skipped, _seen=seen)


def _iter_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(path, factory=None, create=False)
    for index, key in enumerate(box.keys()):
        # get_bytes gives the message without the "From " separator line
        yield f"{path}#{index}", box.get_bytes(key)
