"""CSV/XLSX import in the admin: upload, see a dry-run preview, then confirm (contract §2).

The preview runs the real import in a transaction that is rolled back, so its counts and
errors are exactly what confirming will do. The uploaded file waits in storage between the
two steps, under a random name tied to the user's session.
"""

import uuid
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .imports import CsvImport, ImportRefused, xlsx_as_csv

UPLOAD_DIR = "imports"


class ImportFileForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8, comma-separated, header row) or XLSX.")
    skip_errors = forms.BooleanField(
        required=False, label="Skip bad rows", help_text="Import the good rows anyway."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        suffix = Path(upload.name).suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        return upload


class CsvImportAdminMixin:
    """Adds an "Import CSV/XLSX" page to a ModelAdmin; `importer` says which file it takes."""

    importer: type[CsvImport]
    change_list_template = "leads/admin/change_list_with_import.html"

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name=name), *super().get_urls()]

    def import_view(self, request):
        if not self.has_add_permission(request):
            messages.error(request, "You may not import these records.")
            return HttpResponseRedirect(reverse("admin:index"))
        session_key = f"import-{self.opts.label_lower}"
        form = ImportFileForm(request.POST or None, request.FILES or None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Import {self.opts.verbose_name_plural}",
            "form": form,
            "columns": self.importer.form_class.base_fields,
            "required": self.importer.required,
        }
        if request.method == "POST" and "confirm" in request.POST:
            return self._confirm(request, session_key)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            stored = default_storage.save(
                f"{UPLOAD_DIR}/{uuid.uuid4().hex}{Path(upload.name).suffix.lower()}", upload
            )
            skip = form.cleaned_data["skip_errors"]
            request.session[session_key] = {"path": stored, "skip": skip, "name": upload.name}
            context.update(
                report=self._run(stored, skip_errors=skip, dry_run=True),
                file_name=upload.name,
                skip_errors=skip,
            )
        return TemplateResponse(request, "leads/admin/import.html", context)

    def _run(self, stored: str, *, skip_errors: bool, dry_run: bool):
        importer = self.importer(skip_errors=skip_errors, dry_run=dry_run)
        with default_storage.open(stored, "rb") as binary:
            try:
                source = xlsx_as_csv(binary) if stored.endswith(".xlsx") else binary
                return importer.run(source)
            except ImportRefused as refused:
                return refused.report

    def _confirm(self, request, session_key: str):
        pending = request.session.pop(session_key, None)
        if not pending or not default_storage.exists(pending["path"]):
            messages.error(request, "That preview has expired: upload the file again.")
            return HttpResponseRedirect(request.path)
        try:
            report = self._run(pending["path"], skip_errors=pending["skip"], dry_run=False)
        finally:
            default_storage.delete(pending["path"])
        if not report.committed:
            messages.error(request, f"Nothing was imported: {report.error_count} problems.")
            return HttpResponseRedirect(request.path)
        messages.success(
            request,
            f"Imported {pending['name']}: {report.created} created, {report.updated} updated, "
            f"{report.duplicates} duplicates ignored, {report.skipped} rows skipped, "
            f"{report.leads_rescored} leads rescored.",
        )
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        )
