"""The signed copy of a contract on its page (F-12): upload (agent for their own contracts, back
office for any) and download, on the sales blueprint."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from app.i18n import gettext as _, lazy_gettext as _l
from app.services.sales import portfolio
from app.services.sales import signed

from . import bp
from .common import sales_access


class SignedCopyForm(FlaskForm):
    """The scanned signed contract: PDF, JPEG or PNG (the content decides, not the name)."""

    file = FileField(_l("Signed copy (PDF, JPEG or PNG)"), [FileRequired(_l("Choose the file to upload."))])


@bp.app_context_processor  # also the back office's contract page (admin/contracts_show.html)
def _signed_copy_helpers() -> dict:
    return {"signed_copies": signed.copies_of,
            "may_upload_signed": lambda contract: signed.may_upload(contract, current_user),
            "signed_copy_form": SignedCopyForm, "signed_max_mb": lambda: signed.max_bytes() // (1024 * 1024)}


@bp.route("/contracts/<int:contract_id>/signed", methods=["POST"])
@sales_access
def upload_signed(contract_id: int):
    contract = portfolio.get_contract_or_404(current_user, contract_id)
    form = SignedCopyForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(" ".join(str(e) for e in form.file.errors) or _("Choose the file to upload."), "danger")
        return redirect(url_for(".detail", contract_id=contract.id) + "#signed-copy")
    # Read at most one byte past the limit: enough to tell an oversized file.
    data = form.file.data.stream.read(signed.max_bytes() + 1)
    try:
        signed.upload(contract, data, current_user)
    except signed.UploadRefused as exc:
        flash(str(exc), "danger")
        return redirect(url_for(".detail", contract_id=contract.id) + "#signed-copy")
    flash(_("Signed copy kept: the contract is signed on %(day)s; a copy goes to the customer by e-mail.",
            day=_format_day(contract.signed_on)), "success")
    return redirect(url_for(".detail", contract_id=contract.id) + "#signed-copy")


def _format_day(day) -> str:
    from flask_babel import format_date

    return format_date(day)


@bp.route("/contracts/<int:contract_id>/signed/<int:copy_id>")
@sales_access
def signed_copy(contract_id: int, copy_id: int):
    contract = portfolio.get_contract_or_404(current_user, contract_id)
    copy = signed.get_copy(contract, copy_id)
    if copy is None:
        abort(404)
    response = send_file(io.BytesIO(copy.content), mimetype=copy.media_type, as_attachment=True,
                         download_name=signed.filename(contract, copy))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
