"""Forms of the inbox: validation at the edge, 4xx on bad input."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from conversations.filters import filtered_conversations
from conversations.models import Classification, Conversation, Priority, Status
from conversations.services import CLASSIFICATIONS_WITH_CUSTOMER, REMEMBER_ADDRESS, REMEMBER_DOMAIN
from kommunikation.models import BusinessEntity, Customer


class LoginForm(AuthenticationForm):
    """Django's login form with our wording; the lockout is django-axes' (config/security.py)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Benutzername oder Passwort ist falsch."),
    }


class ClassifyForm(forms.Form):
    """Which conversations (the selection, every match of a filter, or one sender's) become what."""

    SCOPES = [
        ("auswahl", _("Auswahl")),
        ("treffer", _("alle Treffer")),
        ("absender", _("Absender")),
    ]
    REMEMBER = [
        ("", _("nicht merken")),
        (REMEMBER_ADDRESS, _("Absenderadresse merken")),
        (REMEMBER_DOMAIN, _("Absender-Domain merken")),
    ]

    classification = forms.ChoiceField(label=_("Klassifizierung"), choices=Classification.choices)
    customer = forms.IntegerField(label=_("Kunde / Lieferant"), required=False)
    remember_sender = forms.ChoiceField(
        label=_("Absender merken"), choices=REMEMBER, required=False
    )
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
        classification = data.get("classification")
        customer_id = data.get("customer")
        kind = CLASSIFICATIONS_WITH_CUSTOMER.get(classification)
        data["customer_obj"] = None
        if kind is not None:
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


class ReplyForm(forms.Form):
    subject = forms.CharField(label=_("Betreff"), required=False, max_length=500)
    text = forms.CharField(label=_("Antwort"), widget=forms.Textarea, max_length=100_000)


class WhatsAppReplyForm(forms.Form):
    """Free text (inside the window) or the key of an approved template."""

    text = forms.CharField(label=_("Nachricht"), required=False, max_length=4096)
    template = forms.SlugField(label=_("Vorlage"), required=False, max_length=80)

    def clean(self):
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("template"):
            raise forms.ValidationError(_("Bitte einen Text eingeben oder eine Vorlage wählen."))
        return data
