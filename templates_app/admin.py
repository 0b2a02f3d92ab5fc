"""Admin for templates: list filters, content editor with live HTMX preview, versions, diff, restore."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.urls import path
from django.utils.translation import gettext_lazy as _

from kommunikation.admin_scoping import BrandScopedAdmin, BrandScopedInline
from templates_app import views
from templates_app.models import (
    CONTENT_FIELDS,
    MessageTemplate,
    TemplateVariant,
    TemplateVersion,
    create_version,
)
from templates_app.rendering import validate_content

_AREA = {"rows": 10, "cols": 90, "spellcheck": "true", "style": "font-family: monospace"}


class MessageTemplateForm(forms.ModelForm):
    """Template metadata plus the content of one variant; saving adds a version."""

    variant = forms.CharField(widget=forms.HiddenInput, required=False)
    subject = forms.CharField(
        label=_("Betreff"), required=False, widget=forms.TextInput(attrs={"size": 90})
    )
    text = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs=_AREA))
    html = forms.CharField(
        label=_("HTML"),
        required=False,
        widget=forms.Textarea(attrs=_AREA),
        help_text=_("Leer = aus dem Text erzeugt."),
    )
    sms_text = forms.CharField(
        label=_("SMS-Text"), required=False, widget=forms.Textarea(attrs={**_AREA, "rows": 3})
    )
    whatsapp_name = forms.CharField(label=_("WhatsApp-Vorlagenname"), required=False)
    whatsapp_language = forms.CharField(
        label=_("WhatsApp-Sprachcode"),
        required=False,
        max_length=15,
        help_text=_("Code der bei Meta freigegebenen Übersetzung, z. B. de oder en_US."),
    )
    whatsapp_params = forms.JSONField(
        label=_("WhatsApp-Parameter"),
        required=False,
        initial=list,
        help_text=_('JSON-Liste für {{1}}, {{2}} …, z. B. ["{{ date|datum }}", "{{ time }}"]'),
        widget=forms.Textarea(attrs={**_AREA, "rows": 2}),
    )
    letter_body = forms.CharField(
        label=_("Brieftext"), required=False, widget=forms.Textarea(attrs=_AREA)
    )
    note = forms.CharField(label=_("Änderungsnotiz"), required=False, max_length=200)

    variant_name = ""  # set per request by MessageTemplateAdmin.get_form

    class Meta:
        model = MessageTemplate
        fields = ["key", "event_type", "category", "channel", "language", "brand", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        variant = self.current_variant()
        self.fields["variant"].initial = variant.name if variant else (self.variant_name or "A")
        version = variant.active_version if variant else None
        if version is not None and not self.is_bound:
            for field in CONTENT_FIELDS:
                self.initial[field] = getattr(version, field)

    def current_variant(self) -> TemplateVariant | None:
        if self.instance.pk is None:
            return None
        variants = self.instance.variants.all()
        name = self.data.get("variant") if self.is_bound else self.variant_name
        return next((v for v in variants if v.name == name), None) or variants.first()

    def content(self) -> dict:
        data = {field: self.cleaned_data.get(field) for field in CONTENT_FIELDS}
        data["whatsapp_params"] = data["whatsapp_params"] or []
        return data

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        problems = validate_content(
            self.content(), event_type=cleaned.get("event_type"), channel=cleaned.get("channel")
        )
        for field, messages in problems.items():
            for message in messages:
                self.add_error(field, message)
        return cleaned


class TemplateVariantInline(BrandScopedInline, admin.TabularInline):
    brand_path = "template__brand"
    global_rows = True
    model = TemplateVariant
    fields = ["name", "weight", "is_active"]
    extra = 0
    verbose_name_plural = _("A/B-Varianten (neue Varianten übernehmen den aktuellen Inhalt)")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(BrandScopedAdmin):
    """Templates of the user's brands, and the default templates (brand empty), which every
    brand uses: those everybody may read, but only a superuser or someone on the staff of
    every brand may change (kommunikation.admin_scoping.may_change_global_rows)."""

    brand_path = "brand"
    global_rows = True
    form = MessageTemplateForm
    inlines = [TemplateVariantInline]
    list_display = [
        "key",
        "channel",
        "language",
        "brand_label",
        "category",
        "event_type",
        "variant_count",
    ]
    list_filter = ["key", "channel", "language", "brand", "category"]
    search_fields = ["key", "description"]
    change_form_template = "admin/templates_app/messagetemplate/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "key",
                    "event_type",
                    "category",
                    "channel",
                    "language",
                    "brand",
                    "description",
                ]
            },
        ),
        (
            _("Inhalt"),
            {
                "fields": [
                    "variant",
                    "subject",
                    "text",
                    "html",
                    "sms_text",
                    "whatsapp_name",
                    "whatsapp_language",
                    "whatsapp_params",
                    "letter_body",
                    "note",
                ]
            },
        ),
    ]

    @admin.display(description=_("Marke"), ordering="brand__name")
    def brand_label(self, obj):
        return obj.brand.name if obj.brand_id else _("Standard")

    @admin.display(description=_("Varianten"))
    def variant_count(self, obj):
        return obj.n_variants

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("brand")
            .annotate(n_variants=Count("variants"))
        )

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.variant_name = request.GET.get("variant", "")
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        variant, _created = TemplateVariant.objects.get_or_create(
            template=obj, name=form.cleaned_data.get("variant") or "A"
        )
        create_version(
            variant=variant,
            content=form.content(),
            author=request.user,
            note=form.cleaned_data.get("note") or "",
        )
        form.edited_variant = variant

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A variant added in the inline starts as a copy of the variant being edited.
        source = form.edited_variant.active_version
        for variant in form.instance.variants.filter(versions__isnull=True):
            create_version(
                variant=variant, content=source.content(), author=request.user, note=_("Kopie")
            )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **views.change_form_context(request, object_id)}
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **views.change_form_context(request, None)}
        return super().add_view(request, form_url, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("vorschau/", wrap(views.preview), name="templates_app_preview"),
            path(
                "<int:template_id>/versionen/<int:version_id>/diff/",
                wrap(views.version_diff),
                name="templates_app_version_diff",
            ),
            path(
                "<int:template_id>/versionen/<int:version_id>/wiederherstellen/",
                wrap(views.version_restore),
                name="templates_app_version_restore",
            ),
            *super().get_urls(),
        ]


@admin.register(TemplateVersion)
class TemplateVersionAdmin(BrandScopedAdmin):
    """Read-only list of the versions of the templates the user may see (they are immutable)."""

    brand_path = "variant__template__brand"
    global_rows = True
    list_display = ["variant", "number", "source", "author", "created_at", "note"]
    list_filter = ["source", "variant__template__channel", "variant__template__language"]
    search_fields = ["variant__template__key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
