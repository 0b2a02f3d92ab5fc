"""Reading raw emails from files: .eml files, mbox files, Maildir folders and directories."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from pathlib import Path


def _natural(key: str) -> list:
    """Maildir keys ("1732270000.M98765P42Q3.host") in delivery order: their numbers compare
    as numbers, since the microseconds are not zero-padded."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def is_mbox(path: Path) -> bool:
    if path.suffix.lower() == ".mbox":
        return True
    if path.suffix.lower() in (".eml", ".msg", ".txt"):
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"From "
    except OSError:
        return False


def iter_raw_emails(path: Path) -> Iterator[tuple[str, bytes]]:
    """(source, raw bytes) for every message below path, in a stable order."""
    if is_maildir(path):
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys(), key=_natural):
            with box.get_file(key) as handle:
                yield f"{path}#{key}", handle.read()
        return
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            yield from iter_raw_emails(child)
        return
    if is_mbox(path):
        box = mailbox.mbox(path, factory=None, create=False)
        for index, key in enumerate(box.keys()):
            # get_bytes gives the message without the "From " separator line
            yield f"{path}#{index}", box.get_bytes(key)
        return
    yield str(path), path.read_bytes()
