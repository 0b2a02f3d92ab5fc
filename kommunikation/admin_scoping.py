"""Brand scoping for the Django admin: staff who are not superusers see only their brands.

Every ModelAdmin and inline of the project derives from ``BrandScopedAdmin`` or
``BrandScopedInline`` and declares ``brand_path``, the lookup from its model to the
BusinessEntity (``""`` for the brand itself, ``None`` with an own ``scope_queryset``
for models that reach a brand another way). From that one declaration follow:

- lists, change/delete/history pages, actions, raw-id popups (``_to_field``) and
  autocomplete results show only rows of the user's brands (autocomplete and popups
  read the related model's admin, which is scoped the same way);
- every related field (foreign key, many-to-many, raw id, autocomplete) offers and
  accepts only objects of the user's brands; a raw-id field shows no label for an id
  outside them;
- rows without a brand (``global_rows = True``: default templates and their versions)
  are listed to everybody who may view the model, but only a superuser, or a staff
  member of every brand, may change, delete or create them, because a change to
  them changes what every brand sends.

Cross-brand links between two objects the user may both see (a team lead of two
brands) are refused by the models' ``clean()`` (``kommunikation.models.check_same_brand``),
which the admin forms run. ``tests/test_brand_isolation_sweep.py`` walks every
registered admin and fails for one that is not scoped here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget, ManyToManyRawIdWidget
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured, PermissionDenied
from django.db.models import Q, QuerySet

from kommunikation.models import BusinessEntity, brand_of

UNDECLARED = object()


def may_change_global_rows(user) -> bool:
    """A row for every brand may be changed by someone who answers for every brand."""
    return user.is_superuser or not BusinessEntity.objects.exclude(staff=user).exists()


def users_for(user) -> QuerySet:
    """Staff a user may pick (assignee, author, a brand's staff): colleagues of their brands,
    and new colleagues who have no brand yet."""
    User = get_user_model()
    if user.is_superuser:
        return User.objects.all()
    brands = BusinessEntity.objects.for_user(user)
    ids = User.objects.filter(Q(brands__in=brands) | Q(brands__isnull=True)).values("pk")
    return User.objects.filter(pk__in=ids)


class _ScopedRawIdMixin:
    """Raw-id widgets look their label up by id; outside the user's brands they show none."""

    def __init__(self, *args, scope: QuerySet, **kwargs):
        self.scope = scope
        super().__init__(*args, **kwargs)

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            visible = self.scope.filter(**{key: value}).exists()
        except (ValueError, TypeError):
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


class ScopedForeignKeyRawIdWidget(_ScopedRawIdMixin, ForeignKeyRawIdWidget):
    pass


class ScopedManyToManyRawIdWidget(ManyToManyRawIdWidget):
    def __init__(self, *args, scope: QuerySet, **kwargs):
        super().__init__(*args, **kwargs)  # shows no labels; the scope is the form's queryset


class BrandCheckedModelForm(forms.ModelForm):
    """A model's ``clean()`` names the linking field; when the form shows that field
    read-only (or not at all) the error is shown above the form instead of crashing."""

    def _update_errors(self, errors):
        if hasattr(errors, "error_dict"):
            for field in [f for f in errors.error_dict if f != NON_FIELD_ERRORS]:
                if field not in self.fields:
                    errors.error_dict.setdefault(NON_FIELD_ERRORS, []).extend(
                        errors.error_dict.pop(field)
                    )
        super()._update_errors(errors)


class _BrandScope:
    """The part shared by model admins and inlines."""

    form = BrandCheckedModelForm
    brand_path = UNDECLARED
    global_rows = False  # rows whose brand is empty belong to every brand

    # -- the rows ---------------------------------------------------------------------

    def scope_queryset(self, queryset: QuerySet, brands: QuerySet) -> QuerySet:
        """Rows of ``brands``; override (with ``brand_path = None``) for models without a path."""
        if self.brand_path is UNDECLARED or self.brand_path is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} must declare brand_path or override scope_queryset."
            )
        if self.brand_path == "":
            return queryset.filter(pk__in=brands)
        condition = Q(**{f"{self.brand_path}__in": brands})
        if self.global_rows:
            condition |= Q(**{f"{self.brand_path}__isnull": True})
        return queryset.filter(condition)

    def scoped(self, queryset: QuerySet, user) -> QuerySet:
        if user.is_superuser:
            return queryset
        return self.scope_queryset(queryset, BusinessEntity.objects.for_user(user))

    def is_global(self, obj) -> bool:
        return bool(self.global_rows and self.brand_path and brand_of(obj, self.brand_path) is None)

    def may_write(self, request, obj) -> bool:
        return obj is None or not self.is_global(obj) or may_change_global_rows(request.user)

    # -- related fields ---------------------------------------------------------------

    def related_scope(self, model, request) -> QuerySet:
        """What a related field pointing at ``model`` may offer to this user."""
        user = request.user
        if model is BusinessEntity:
            return BusinessEntity.objects.for_user(user)
        if model is get_user_model():
            return users_for(user)
        related_admin = self.admin_site._registry.get(model)
        if isinstance(related_admin, _BrandScope):
            return related_admin.scoped(model._default_manager.all(), user)
        for parent_admin in self.admin_site._registry.values():  # a model edited inline only
            for inline in getattr(parent_admin, "inlines", []):
                if inline.model is model and issubclass(inline, _BrandScope):
                    scope = inline(parent_admin.model, self.admin_site)
                    return scope.scoped(model._default_manager.all(), user)
        raise ImproperlyConfigured(
            f"{type(self).__name__}: no brand scope for related model {model._meta.label}; "
            "register it with a BrandScopedAdmin."
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scope = self.related_scope(db_field.related_model, request)
        kwargs["queryset"] = scope
        if db_field.name in self.raw_id_fields and "widget" not in kwargs:
            kwargs["widget"] = ScopedForeignKeyRawIdWidget(
                db_field.remote_field, self.admin_site, using=kwargs.get("using"), scope=scope
            )
        if (
            db_field.related_model is BusinessEntity
            and db_field.null
            and not may_change_global_rows(request.user)
        ):
            kwargs["required"] = True  # an empty brand would make a row for every brand
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        scope = self.related_scope(db_field.remote_field.model, request)
        kwargs["queryset"] = scope
        if db_field.name in self.raw_id_fields and "widget" not in kwargs:
            kwargs["widget"] = ScopedManyToManyRawIdWidget(
                db_field.remote_field, self.admin_site, using=kwargs.get("using"), scope=scope
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class BrandScopedAdmin(_BrandScope, admin.ModelAdmin):
    """Set ``brand_path`` to the lookup from the model to its BusinessEntity."""

    def get_queryset(self, request):
        return self.scoped(super().get_queryset(request), request.user)

    def get_list_filter(self, request):
        # A filter on a relation lists only the related objects that occur in the scoped
        # rows, so the sidebar does not name other brands or their customers.
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and "__" not in item:
                field = self.model._meta.get_field(item)
                if field.is_relation:
                    item = (item, admin.RelatedOnlyFieldListFilter)
            filters.append(item)
        return filters

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.may_write(request, obj)

    def save_model(self, request, obj, form, change):
        if self.is_global(obj) and not may_change_global_rows(request.user):
            raise PermissionDenied  # the form requires a brand; this guards other paths
        super().save_model(request, obj, form, change)


class BrandScopedInline(_BrandScope):
    """Mixin for inlines: ``class XInline(BrandScopedInline, admin.TabularInline)``.

    The formset already holds only the parent's rows; the scope restricts the related
    fields of each row (and ``brand_path`` documents how the rows reach a brand).
    """

    def get_queryset(self, request):
        return self.scoped(super().get_queryset(request), request.user)
