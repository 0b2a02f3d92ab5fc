"""Forms of the customer page and of a new contact: validated here, German errors, 4xx."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kommunikation.customers import CustomerDetails, normalized_contact
from kommunikation.models import ContactChannel, ContactType, Customer

PERSON, COMPANY = "person", "company"
IS_COMPANY_CHOICES = [(PERSON, _("Person")), (COMPANY, _("Firma / Organisation"))]


def _required_name(form: forms.Form, data: dict) -> None:
    if data.get("is_company") == COMPANY:
        if not data.get("company_name", "").strip():
            form.add_error("company_name", _("Bitte den Namen der Firma angeben."))
    elif not data.get("last_name", "").strip() and not data.get("first_name", "").strip():
        form.add_error("last_name", _("Bitte einen Namen angeben."))


class NewCustomerForm(forms.Form):
    """A new customer or supplier from the classification dialog (prefix "neu")."""

    is_company = forms.ChoiceField(label=_("Art"), choices=IS_COMPANY_CHOICES, initial=PERSON)
    company_name = forms.CharField(label=_("Firma"), max_length=200, required=False)
    first_name = forms.CharField(label=_("Vorname"), max_length=80, required=False)
    last_name = forms.CharField(label=_("Nachname"), max_length=80, required=False)
    number = forms.CharField(label=_("Kundennummer"), max_length=40, required=False)
    email = forms.CharField(label=_("E-Mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Telefon"), max_length=40, required=False)

    def clean_email(self) -> str:
        value = self.cleaned_data["email"].strip()
        return normalized_contact(ContactChannel.EMAIL, value) if value else ""

    def clean_phone(self) -> str:
        value = self.cleaned_data["phone"].strip()
        return normalized_contact(ContactChannel.PHONE, value) if value else ""

    def clean(self):
        data = super().clean()
        _required_name(self, data)
        return data

    def details(self) -> CustomerDetails:
        data = self.cleaned_data
        is_company = data["is_company"] == COMPANY
        return CustomerDetails(
            is_company=is_company,
            company_name=data["company_name"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            number=data["number"],
            email=data["email"],
            phone=data["phone"],
        )

    @classmethod
    def from_details(cls, details: CustomerDetails) -> NewCustomerForm:
        return cls(
            prefix="neu",
            initial={
                "is_company": COMPANY if details.is_company else PERSON,
                "company_name": details.company_name,
                "first_name": details.first_name,
                "last_name": details.last_name,
                "email": details.email,
                "phone": details.phone,
            },
        )


class ContactDataForm(forms.ModelForm):
    """Name, company, customer number, person or organisation."""

    is_company = forms.TypedChoiceField(
        label=_("Art"),
        choices=IS_COMPANY_CHOICES,
        coerce=lambda value: value == COMPANY,
        widget=forms.RadioSelect,
    )

    class Meta:
        model = Customer
        fields = ["is_company", "company_name", "gender", "first_name", "last_name", "number"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["is_company"] = COMPANY if self.instance.is_company else PERSON

    def clean(self):
        data = super().clean()
        _required_name(self, {**data, "is_company": COMPANY if data.get("is_company") else PERSON})
        return data


class AddressForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["street", "postal_code", "city", "country"]

    def clean_country(self) -> str:
        value = self.cleaned_data["country"].strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise forms.ValidationError(_("Bitte das Land als Kürzel mit zwei Buchstaben (DE)."))
        return value


class ContactPointForm(forms.Form):
    """A new address or number; "mobil" is a type of phone number."""

    # push devices register themselves through the API (kommunikation.events.devices)
    channel = forms.ChoiceField(
        label=_("Kanal"),
        choices=[(c.value, c.label) for c in (ContactChannel.EMAIL, ContactChannel.PHONE)],
    )
    value = forms.CharField(label=_("Adresse / Nummer"), max_length=254)
    type = forms.ChoiceField(label=_("Typ"), choices=ContactType.choices, initial=ContactType.WORK)

    def clean(self):
        data = super().clean()
        channel, value = data.get("channel"), data.get("value", "").strip()
        if channel and value:
            if data.get("type") == ContactType.MOBILE and channel != ContactChannel.PHONE:
                self.add_error("type", _("»mobil« gibt es nur für Telefonnummern."))
            try:
                data["value"] = normalized_contact(channel, value)
            except forms.ValidationError as exc:
                self.add_error("value", exc)
        return data


class ChangeContactPointForm(forms.Form):
    value = forms.CharField(label=_("Adresse / Nummer"), max_length=254)
    type = forms.ChoiceField(label=_("Typ"), choices=ContactType.choices)


class NewMessageForm(forms.Form):
    """The first email to a customer from the customer page."""

    to = forms.ChoiceField(label=_("An"))
    subject = forms.CharField(label=_("Betreff"), max_length=500)
    text = forms.CharField(label=_("Nachricht"), widget=forms.Textarea, max_length=100_000)

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        addresses = customer.contact_points.filter(channel=ContactChannel.EMAIL).values_list(
            "value", flat=True
        )
        self.fields["to"].choices = [(a, a) for a in addresses]
        self.fields["to"].error_messages["invalid_choice"] = _(
            "Diese Adresse gehört nicht zu diesem Kunden."
        )


def form_errors(form: forms.Form) -> list[str]:
    """Every error of a form as one German sentence each (field label first)."""
    return [
        str(error) if field == "__all__" else f"{form.fields[field].label}: {error}"
        for field, errors in form.errors.items()
        for error in errors
    ]
