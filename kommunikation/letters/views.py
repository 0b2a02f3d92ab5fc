"""The print page for Team-Leads: today's letters waiting to be printed, the button that
makes the batch, past batches for download. Agents get 403; another brand's batch 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from kommunikation.letters.models import PrintBatch
from kommunikation.letters.printing import make_print_batch, ready_letters
from kommunikation.models import BusinessEntity

staff_required = staff_member_required(login_url="login")
# held by Team-Lead, Admin and Management (kommunikation.roles), not by Agents
VIEW, MAKE = "kommunikation.view_printbatch", "kommunikation.add_printbatch"
RECENT_BATCHES = 30


def access_print_batch(user, pk: int) -> PrintBatch:
    if not user.has_perm(VIEW):
        raise PermissionDenied
    return get_object_or_404(
        PrintBatch.objects.filter(brand__in=BusinessEntity.objects.for_user(user)), pk=pk
    )


class PrintBatchForm(forms.Form):
    brand = forms.ModelChoiceField(
        queryset=BusinessEntity.objects.none(), label=gettext_lazy("Marke")
    )
    day = forms.DateField(label=gettext_lazy("Drucktag"), input_formats=["%d.%m.%Y", "%Y-%m-%d"])

    def __init__(self, *args, brands, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brand"].queryset = brands


@require_http_methods(["GET", "POST"])
@staff_required
def print_page(request):
    if not request.user.has_perm(VIEW):
        raise PermissionDenied
    brands = BusinessEntity.objects.for_user(request.user)
    today = timezone.localdate()
    if request.method == "POST":
        if not request.user.has_perm(MAKE):
            raise PermissionDenied
        form = PrintBatchForm(request.POST, brands=brands)
        if form.is_valid():
            batch = make_print_batch(
                brand=form.cleaned_data["brand"], day=form.cleaned_data["day"], user=request.user
            )
            if batch is None:
                messages.info(request, _("Keine Briefe zum Drucken."))
            else:
                messages.success(
                    request,
                    _("Druckstapel mit %(n)s Briefen (%(pages)s Seiten) erstellt.")
                    % {"n": batch.letter_count, "pages": batch.page_count},
                )
            return redirect("letter_print")
        status = 400
    else:
        form, status = None, 200
    letters = list(ready_letters(brands, day=today))
    by_brand: dict[BusinessEntity, list] = {}
    for letter in letters:
        by_brand.setdefault(letter.brand, []).append(letter)
    batches = (
        PrintBatch.objects.filter(brand__in=brands)
        .select_related("brand", "created_by")
        .order_by("-created_at", "-id")[:RECENT_BATCHES]
    )
    context = {
        "today": today,
        "by_brand": [
            (brand, items, sum(i.pages for i in items)) for brand, items in by_brand.items()
        ],
        "batches": batches,
        "may_make": request.user.has_perm(MAKE),
        "form": form,
    }
    return render(request, "kommunikation/print_letters.html", context, status=status)


@require_GET
@staff_required
def batch_download(request, pk: int):
    batch = access_print_batch(request.user, pk)
    if not batch.file:
        raise PermissionDenied
    name = f"druckstapel-{batch.brand.slug}-{batch.day:%Y-%m-%d}.pdf"
    return FileResponse(
        batch.file.open("rb"), as_attachment=True, filename=name, content_type="application/pdf"
    )
