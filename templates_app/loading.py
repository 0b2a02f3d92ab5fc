"""Load the template library (YAML files in templates_app/library/) into the database.

Idempotent: a version is only added when a file's content for a template variant differs
from the last version loaded from the library. Edits made in the admin are kept until the
library itself changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from templates_app.models import (
    CONTENT_FIELDS,
    MessageTemplate,
    TemplateVariant,
    content_hash,
    create_version,
)

LIBRARY_DIR = Path(__file__).parent / "library"
LANGUAGES = ("de", "en", "nl")


class LibraryError(Exception):
    pass


@dataclass
class LoadStats:
    templates_created: int = 0
    versions_created: int = 0
    unchanged: int = 0
    files: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.files)} Dateien: {self.templates_created} Vorlagen neu, "
            f"{self.versions_created} Versionen neu, {self.unchanged} unverändert."
        )


def library_entries(paths: list[Path]):
    """(file, entry) for every template in the files, with basic shape checks."""
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("templates", []):
            missing = {"key", "event", "category", "channel", "content"} - set(entry)
            if missing:
                raise LibraryError(f"{path.name}: {entry.get('key')}: fehlt {sorted(missing)}")
            yield path, entry


def _content(raw: dict) -> dict:
    unknown = set(raw) - set(CONTENT_FIELDS)
    if unknown:
        raise LibraryError(f"unbekannte Felder {sorted(unknown)}")
    return {f: raw.get(f) or ([] if f == "whatsapp_params" else "") for f in CONTENT_FIELDS}


@transaction.atomic
def load_library(paths: list[Path] | None = None) -> LoadStats:
    """Create or update the default (brandless) templates from the library files."""
    paths = sorted(paths or LIBRARY_DIR.glob("*.yaml"))
    stats = LoadStats(files=[p.name for p in paths])
    for path, entry in library_entries(paths):
        variants = {"A": {"weight": entry.get("weight", 100), "content": entry["content"]}}
        variants.update(entry.get("variants") or {})
        languages = set()
        for spec in variants.values():
            languages.update(spec["content"])
        for language in sorted(languages):
            template, created = MessageTemplate.objects.get_or_create(
                key=entry["key"],
                channel=entry["channel"],
                language=language,
                brand=None,
                defaults={
                    "event_type": entry["event"],
                    "category": entry["category"],
                    "description": entry.get("description", ""),
                },
            )
            stats.templates_created += created
            if not created and (template.event_type, template.category) != (
                entry["event"],
                entry["category"],
            ):
                template.event_type, template.category = entry["event"], entry["category"]
                template.save(update_fields=["event_type", "category"])
            for name, spec in variants.items():
                if language not in spec["content"]:
                    continue
                variant, _new = TemplateVariant.objects.get_or_create(
                    template=template, name=name, defaults={"weight": spec.get("weight", 100)}
                )
                try:
                    content = _content(spec["content"][language])
                except LibraryError as exc:
                    raise LibraryError(f"{path.name}: {entry['key']}/{language}: {exc}") from None
                last = variant.versions.filter(source="library").order_by("-number").first()
                if last is not None and last.content_hash == content_hash(content):
                    stats.unchanged += 1
                    continue
                try:
                    version = create_version(
                        variant=variant, content=content, source="library", note=path.name
                    )
                except ValidationError as exc:
                    raise LibraryError(
                        f"{path.name}: {entry['key']}/{language}/{name}: {exc.message_dict}"
                    ) from None
                if version is None:
                    stats.unchanged += 1
                else:
                    stats.versions_created += 1
    return stats
