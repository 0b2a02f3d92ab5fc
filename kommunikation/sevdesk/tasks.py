"""django-q2 tasks of the sevDesk integration (see config/schedules.py): one call each."""

from __future__ import annotations


def sync_sevdesk() -> str:
    from kommunikation.sevdesk.sync import sync_all

    return "; ".join(r.summary() for r in sync_all()) or "keine sevDesk-Verbindung"


def scan_overdue_invoices() -> str:
    from kommunikation.sevdesk.overdue import scan_overdue

    return scan_overdue().summary()


def refresh_segments() -> str:
    from kommunikation.sevdesk.segments import refresh_segments as refresh

    return f"{refresh()} Kunden neu eingestuft"
