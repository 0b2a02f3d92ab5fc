from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from compliance.models import Category, Channel, Consent
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


STAFF_SOURCES = [Consent.Source.PHONE, Consent.Source.STAFF]


class StaffPreferenceForm(PreferenceForm):
    """The matrix as staff change it: where the customer said so, and in which words."""

    source = forms.ChoiceField(
        label=_("Quelle"),
        choices=[(s.value, s.label) for s in STAFF_SOURCES],
        initial=Consent.Source.PHONE,
    )
    note = forms.CharField(
        label=_("Was hat der Kunde gesagt?"),
        required=False,
        max_length=1000,
        help_text=_("Wird als Wortlaut der Einwilligung gespeichert (Nachweis)."),
    )


class BlockForm(forms.Form):
    """Staff put one of the customer's addresses or numbers on the suppression list."""

    contact_point = forms.IntegerField(widget=forms.HiddenInput)
    channel = forms.ChoiceField(label=_("Kanal"), choices=Channel.choices)
    detail = forms.CharField(label=_("Grund"), required=False, max_length=500)

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer

    def clean(self):
        data = super().clean()
        point = self.customer.contact_points.filter(pk=data.get("contact_point")).first()
        if point is None:
            raise forms.ValidationError(_("Diese Adresse gehört nicht zu diesem Kunden."))
        if data.get("channel") not in channels_for_contact(point.channel):
            raise forms.ValidationError(_("Dieser Kanal passt nicht zur Adresse."))
        data["value"] = point.value
        return data


def channels_for_contact(contact_channel: str) -> list[str]:
    """Where an address (email) or a number (phone) can be blocked."""
    if contact_channel == "email":
        return [Channel.EMAIL]
    return [Channel.SMS, Channel.WHATSAPP, Channel.CALL]
