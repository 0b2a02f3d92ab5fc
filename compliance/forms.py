from __future__ import annotations

from django import forms

from compliance.models import Category, Channel
from compliance.services import PREFERENCE_CATEGORIES, PREFERENCE_CHANNELS


def field_name(channel: str, category: str) -> str:
    return f"{channel}__{category}"


class PreferenceForm(forms.Form):
    """One checkbox per (channel, category); the public page and staff share it."""

    def __init__(self, *args, matrix: dict[tuple[str, str], bool], **kwargs):
        super().__init__(*args, **kwargs)
        for channel in PREFERENCE_CHANNELS:
            for category in PREFERENCE_CATEGORIES:
                self.fields[field_name(channel, category)] = forms.BooleanField(
                    required=False,
                    initial=matrix.get((channel, category), True),
                    label=f"{Category(category).label} · {Channel(channel).label}",
                )

    def rows(self):
        """For the template: one row per category, one checkbox per channel."""
        return [
            (
                Category(category).label,
                [self[field_name(channel, category)] for channel in PREFERENCE_CHANNELS],
            )
            for category in PREFERENCE_CATEGORIES
        ]

    def channel_labels(self):
        return [Channel(channel).label for channel in PREFERENCE_CHANNELS]

    def wanted(self) -> dict[tuple[str, str], bool]:
        return {
            (channel, category): self.cleaned_data[field_name(channel, category)]
            for channel in PREFERENCE_CHANNELS
            for category in PREFERENCE_CATEGORIES
        }
