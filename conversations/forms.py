"""Forms of the inbox: validation at the edge, 4xx on bad input."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversations.filters import LocalDateField, filtered_conversations
from conversations.models import Classification, Conversation, Priority, Status
from conversations.services import CLASSIFICATIONS_WITH_CUSTOMER, REMEMBER_ADDRESS, REMEMBER_DOMAIN
from kommunikation.models import BusinessEntity, Customer


class LoginForm(AuthenticationForm):
    """Django's login form with our wording; the lockout is django-axes' (config/security.py)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Benutzername oder Passwort ist falsch."),
    }


class SelectionForm(forms.Form):
    """Which conversations: the selection, every match of a filter, or one sender's.
    Bulk classification and the other bulk actions share it (and its count preview)."""

    SCOPES = [
        ("auswahl", _("Auswahl")),
        ("treffer", _("alle Treffer")),
        ("absender", _("Absender")),
    ]

    scope = forms.ChoiceField(choices=SCOPES, initial="auswahl")
    ids = forms.CharField(required=False)
    query = forms.CharField(required=False, max_length=2000)
    sender = forms.CharField(required=False, max_length=254)

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_ids(self) -> list[int]:
        raw = self.cleaned_data["ids"]
        try:
            return [int(v) for v in raw.split(",") if v.strip()]
        except ValueError:
            raise ValidationError(_("Ungültige Auswahl.")) from None

    def clean(self):
        data = super().clean()
        if data.get("scope") == "auswahl" and not data.get("ids"):
            raise ValidationError(_("Keine Konversation ausgewählt."))
        if data.get("scope") == "absender" and not data.get("sender"):
            raise ValidationError(_("Kein Absender angegeben."))
        return data

    def conversations(self):
        """The chosen conversations, always within the user's brands."""
        data = self.cleaned_data
        if data["scope"] == "treffer":
            return filtered_conversations(self.user, QueryDict(data.get("query", "")))
        qs = Conversation.objects.for_user(self.user)
        if data["scope"] == "absender":
            return qs.filter(counterpart=data["sender"].strip().lower())
        return qs.filter(pk__in=data["ids"])


class ClassifyForm(SelectionForm):
    """Which conversations become what."""

    REMEMBER = [
        ("", _("nicht merken")),
        (REMEMBER_ADDRESS, _("Absenderadresse merken")),
        (REMEMBER_DOMAIN, _("Absender-Domain merken")),
    ]

    classification = forms.ChoiceField(label=_("Klassifizierung"), choices=Classification.choices)
    customer = forms.IntegerField(label=_("Kunde / Lieferant"), required=False)
    # "Neuen Kunden anlegen": the contact comes with the request (kommunikation.forms)
    new_customer = forms.BooleanField(required=False)
    remember_sender = forms.ChoiceField(
        label=_("Absender merken"), choices=REMEMBER, required=False
    )

    def clean(self):
        data = super().clean()
        classification = data.get("classification")
        customer_id = data.get("customer")
        kind = CLASSIFICATIONS_WITH_CUSTOMER.get(classification)
        data["customer_obj"] = None
        if kind is not None and data.get("new_customer"):
            pass  # the new contact's own form (NewCustomerForm) is validated by the view
        elif kind is not None:
            if not customer_id:
                raise ValidationError(_("Bitte einen Kunden oder Lieferanten auswählen."))
            customer = (
                Customer.objects.for_brands(BusinessEntity.objects.for_user(self.user))
                .filter(pk=customer_id, kind=kind)
                .first()
            )
            if customer is None:
                raise ValidationError(_("Diesen Kontakt gibt es nicht (mehr)."))
            data["customer_obj"] = customer
        return data


class BulkActionForm(SelectionForm):
    """A change of many conversations at once other than their classification."""

    ACTIONS = [
        ("archive", _("Archivieren")),
        ("read", _("Als gelesen markieren")),
        ("unread", _("Als ungelesen markieren")),
        ("status", _("Status setzen")),
        ("priority", _("Priorität setzen")),
        ("assign", _("Zuweisen")),
    ]

    action = forms.ChoiceField(label=_("Aktion"), choices=ACTIONS)
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices, required=False)
    priority = forms.ChoiceField(label=_("Priorität"), choices=Priority.choices, required=False)
    assignee = forms.CharField(label=_("Zuweisen an"), required=False)

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == "status" and not data.get("status"):
            raise ValidationError(_("Bitte einen Status wählen."))
        if action == "priority" and not data.get("priority"):
            raise ValidationError(_("Bitte eine Priorität wählen."))
        data["assignee_obj"] = None
        if action == "assign":
            value = data.get("assignee") or ""
            if value == "ich":
                data["assignee_obj"] = self.user
            elif value:
                user = (
                    get_user_model()
                    .objects.filter(
                        pk=value if value.isdigit() else None,
                        brands__in=BusinessEntity.objects.for_user(self.user),
                    )
                    .first()
                )
                if user is None:
                    raise ValidationError(_("Diese Person gibt es für Ihre Marken nicht."))
                data["assignee_obj"] = user
        return data


class SnoozeForm(forms.Form):
    """Wiedervorlage: a quick choice, or a date and time typed as dd.mm.yyyy HH:MM."""

    wann = forms.ChoiceField(
        choices=[
            ("heute", _("Heute 17:00")),
            ("morgen", _("Morgen 08:00")),
            ("montag", _("Nächsten Montag 08:00")),
            ("eigene", _("Datum und Uhrzeit")),
            ("ende", _("Wiedervorlage beenden")),
        ]
    )
    datum = LocalDateField(label=_("Datum"), required=False)
    uhrzeit = forms.TimeField(
        label=_("Uhrzeit"), required=False, input_formats=["%H:%M", "%H.%M", "%H"]
    )

    def clean(self):
        data = super().clean()
        if data.get("wann") == "eigene":
            if not data.get("datum"):
                raise ValidationError(_("Bitte ein Datum angeben (TT.MM.JJJJ)."))
            data["until"] = timezone.make_aware(
                dt.datetime.combine(data["datum"], data.get("uhrzeit") or dt.time(8))
            )
        return data


class AssignForm(forms.Form):
    assignee = forms.CharField(label=_("Zuweisen an"), required=False)

    def __init__(self, *args, conversation, **kwargs):
        self.conversation = conversation
        super().__init__(*args, **kwargs)

    def clean_assignee(self):
        value = self.cleaned_data["assignee"]
        if not value:
            return None
        user = (
            get_user_model()
            .objects.filter(pk=value if value.isdigit() else None, brands=self.conversation.brand)
            .first()
        )
        if user is None:
            raise ValidationError(_("Diese Person gibt es für diese Marke nicht."))
        return user


class MoveBrandForm(forms.Form):
    """Another of the user's own brands for a conversation; any other id is a 400."""

    brand = forms.ModelChoiceField(
        label=_("Marke"),
        queryset=BusinessEntity.objects.none(),
        error_messages={"invalid_choice": _("Diese Marke steht Ihnen nicht zur Wahl.")},
    )

    def __init__(self, *args, conversation, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brand"].queryset = move_targets(user=user, conversation=conversation)


def move_targets(*, user, conversation):
    """The brands a conversation can be moved to by this user: their own, but its own."""
    return BusinessEntity.objects.for_user(user).exclude(pk=conversation.brand_id).order_by("name")


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices)


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priorität"), choices=Priority.choices)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Interne Notiz"), widget=forms.Textarea, max_length=10_000)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files (Django's documented pattern for ``multiple``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def parse_addresses(value: str) -> list[str]:
    """Addresses separated by commas, semicolons or spaces, each validated, lower-case."""
    addresses = []
    for part in re.split(r"[,;\s]+", value or ""):
        if not part:
            continue
        try:
            validate_email(part)
        except ValidationError:
            raise ValidationError(
                _("Ungültige E-Mail-Adresse: %(address)s"), params={"address": part}
            ) from None
        if part.lower() not in addresses:
            addresses.append(part.lower())
    return addresses


class ReplyForm(forms.Form):
    THEN = [
        ("", _("Senden")),
        (Status.PENDING, _("Senden & wartend")),
        (Status.CLOSED, _("Senden & erledigen")),
    ]

    subject = forms.CharField(label=_("Betreff"), required=False, max_length=500)
    text = forms.CharField(label=_("Antwort"), widget=forms.Textarea, max_length=100_000)
    cc = forms.CharField(label=_("Cc"), required=False, max_length=2000)
    bcc = forms.CharField(label=_("Bcc"), required=False, max_length=2000)
    files = MultipleFileField(label=_("Anhänge"), required=False)
    then = forms.ChoiceField(choices=THEN, required=False)

    def clean_text(self) -> str:
        # a multipart form (one with attachments) sends line breaks as CRLF
        return self.cleaned_data["text"].replace("\r\n", "\n")

    def clean_cc(self) -> list[str]:
        return parse_addresses(self.cleaned_data["cc"])

    def clean_bcc(self) -> list[str]:
        return parse_addresses(self.cleaned_data["bcc"])

    def clean_files(self):
        files = self.cleaned_data["files"]
        limit = settings.REPLY_ATTACHMENTS_MAX_BYTES
        if sum(f.size for f in files) > limit:
            raise ValidationError(
                _("Die Anhänge sind zusammen größer als %(limit)s."),
                params={"limit": filesizeformat(limit)},
            )
        return files


class InboxSettingsForm(forms.Form):
    """A staff member's own inbox settings, in seconds as people think of them."""

    read_delay = forms.DecimalField(
        label=_("Beim Durchblättern als gelesen markieren nach (Sekunden)"),
        min_value=0,
        max_value=60,
        decimal_places=1,
        localize=True,
        help_text=_(
            "Mit ↓ oder j angezeigte Konversationen gelten erst nach dieser Zeit als gelesen, "
            "oder sofort, sobald Sie etwas mit ihnen tun. 0 = sofort beim Anzeigen."
        ),
    )

    def read_delay_ms(self) -> int:
        return int(self.cleaned_data["read_delay"] * 1000)


class SmsReplyForm(forms.Form):
    """The text of an SMS answer; its length in segments is checked by queue_sms_reply."""

    text = forms.CharField(label=_("Nachricht"), max_length=1600)


class WhatsAppReplyForm(forms.Form):
    """Free text (inside the window) or the key of an approved template."""

    text = forms.CharField(label=_("Nachricht"), required=False, max_length=4096)
    template = forms.SlugField(label=_("Vorlage"), required=False, max_length=80)

    def clean(self):
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("template"):
            raise forms.ValidationError(_("Bitte einen Text eingeben oder eine Vorlage wählen."))
        return data
