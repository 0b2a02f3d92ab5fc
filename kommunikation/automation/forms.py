"""Forms of the Automatisierung pages: the dry run of a rule."""

from __future__ import annotations

import json

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kommunikation.automation.insight import example_payload
from kommunikation.automation.models import AutomationRule
from kommunikation.models import Customer


class PrettyJSONField(forms.JSONField):
    """JSON shown indented in the textarea, so the example values are easy to edit."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class DryRunForm(forms.Form):
    """A rule against a customer (by number or id) and/or a sample event of its type."""

    kunde = forms.CharField(
        label=_("Kunde (Nummer oder ID)"),
        required=False,
        max_length=80,
        help_text=_("Leer: ein Beispielereignis ohne Kunde."),
    )
    marke = forms.ModelChoiceField(label=_("Marke"), queryset=None, required=False)
    daten = PrettyJSONField(
        label=_("Daten des Ereignisses (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        help_text=_("Die Beispielwerte des Ereignistyps aus dem Katalog; frei änderbar."),
    )
    vorgang = forms.CharField(
        label=_("Vorgangs-ID (extern)"),
        required=False,
        max_length=80,
        help_text=_("Optional: prüft auch, was schon für diesen Vorgang geplant ist."),
    )

    def __init__(self, *args, rule: AutomationRule, brands, **kwargs):
        kwargs.setdefault("initial", {"daten": example_payload(rule.event_type)})
        super().__init__(*args, **kwargs)
        self.rule = rule
        scope = brands.filter(pk=rule.brand_id) if rule.brand_id else brands
        self.brands = scope
        self.fields["marke"].queryset = scope
        self.fields["marke"].empty_label = None
        if rule.brand_id:
            self.fields["marke"].disabled = True
            self.fields["marke"].initial = rule.brand_id

    def clean_kunde(self) -> Customer | None:
        term = self.cleaned_data["kunde"].strip()
        if not term:
            return None
        match = Q(number__iexact=term)
        if term.isdigit():
            match |= Q(pk=int(term))
        customer = (
            Customer.objects.for_brands(self.brands).filter(match).select_related("brand").first()
        )
        if customer is None:
            raise forms.ValidationError(_("Kein Kunde mit dieser Nummer in den Marken der Regel."))
        return customer

    def clean_daten(self) -> dict:
        data = self.cleaned_data["daten"]
        if not isinstance(data, dict):
            raise forms.ValidationError(_("Die Daten müssen ein JSON-Objekt sein ({...})."))
        return data

    def clean(self):
        cleaned = super().clean()
        customer = cleaned.get("kunde")
        if customer is not None:
            cleaned["brand"] = customer.brand
        else:
            cleaned["brand"] = cleaned.get("marke") or self.brands.order_by("name").first()
            if cleaned["brand"] is None:
                raise forms.ValidationError(_("Keine Marke für das Beispielereignis."))
        return cleaned
