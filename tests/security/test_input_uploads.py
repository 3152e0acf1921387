"""Uploads checked by content: the signed copy of a contract (the only upload) is kept only when
its bytes are a PDF, JPEG or PNG, whatever its name and declared type; anything else is refused
with the reason and changes nothing."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.models import Contract, ContractSignedCopy
from app.roles import AGENT
from tests.conftest import csrf_token
from tests.sales.helpers import agent_for, entered_contract

DISGUISED = [(b"<html><script>alert(1)</script></html>", "contratto.pdf", "application/pdf"),
             (b"\x89PNG\r\n\x1a\nnot really", "firma.png", "image/png"),
             (b"%!PS-Adobe-3.0\n", "firma.jpg", "image/jpeg"),
             (b"MZ\x90\x00" + b"\x00" * 60, "contratto.pdf", "application/octet-stream")]


@pytest.mark.parametrize("data,name,content_type", DISGUISED)
def test_uploads_checked_by_content(client, login_as, db, data, name, content_type):
    user = login_as(AGENT)
    agent_for(user)
    contract = entered_contract(user)
    page = client.get(f"/sales/contracts/{contract.id}").get_data(as_text=True)
    resp = client.post(f"/sales/contracts/{contract.id}/signed", follow_redirects=True,
                       content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(page), "file": (io.BytesIO(data), name, content_type)})
    assert resp.status_code in (200, 400) and "Solo un file PDF, JPEG o PNG" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalars(sa.select(ContractSignedCopy)
                              .where(ContractSignedCopy.contract_id == contract.id)).all() == []
    assert db.session.get(Contract, contract.id).signed_on is None
