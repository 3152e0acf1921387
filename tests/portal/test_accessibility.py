"""The portal's pages as assistive technology and phones read them: error summary and invalid
fields (GOV.UK pattern), autocomplete tokens on personal fields, the invoice list's sort state on
its header cells, and tables whose every cell carries its column's label for the phone cards."""
import re

from markupsafe import Markup

from app.views.markup import cards
from tests.conftest import csrf_token
from tests.portal.conftest import post_form


def _tag(body: str, element_id: str) -> str:
    match = re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{element_id}"[^>]*>', body)
    assert match, f"no control #{element_id}"
    return match.group(0)


def test_F02_failed_reading_has_an_error_summary_and_invalid_fields(client, db, logged_in):
    sp = logged_in["supply_point"]
    url = f"/portal/supply/{sp.id}/reading"
    resp = post_form(client, url, {"meter": str(logged_in["meter"].id), "reading_date": "", "value": ""})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "<title>Errore: Comunica una lettura" in body
    summary = body[body.index("data-error-summary"):body.index("</ul>", body.index("data-error-summary"))]
    assert "<h2>C'è un problema</h2>" in summary
    assert '<a href="#reading_date">Data della lettura: Questo campo è obbligatorio.</a>' in summary
    assert '<a href="#value">Lettura del contatore (m³): Inserisci il numero indicato dal contatore.</a>' in summary
    # the summary comes before the page's heading and takes focus on load
    assert body.index("data-error-summary") < body.index("<h1>")
    assert 'tabindex="-1" autofocus data-error-summary' in body
    for fid in ("reading_date", "value"):
        control = _tag(body, fid)
        assert 'aria-invalid="true"' in control
        assert f'aria-describedby="{fid}-err"' in control
        assert f'<p class="error" id="{fid}-err">' in body
    assert 'max="' in _tag(body, "reading_date")  # no date after today offered
    assert 'aria-invalid' not in _tag(body, "meter")


def test_F01_every_invalid_field_is_marked_and_described(client, db):
    page = client.get("/portal/register")
    body = page.get_data(as_text=True)
    assert "data-error-summary" not in body and 'aria-invalid' not in body
    resp = client.post("/portal/register", data={"csrf_token": csrf_token(body)})
    body = resp.get_data(as_text=True)
    for fid in ("web_code", "identifier", "username", "password", "password_confirm", "question", "answer"):
        control = _tag(body, fid)
        assert 'aria-invalid="true"' in control, fid
        described = re.search(r'aria-describedby="([^"]+)"', control).group(1).split()
        assert f"{fid}-err" in described, fid
        assert f'href="#{fid}"' in body, fid
    # a hint stays described next to the error
    assert re.search(r'aria-describedby="question-hint question-err"', _tag(body, "question"))
    assert 'aria-invalid' not in _tag(body, "email")  # optional and empty: valid


def test_F06_direct_debit_authorisation_checkbox_is_linked_to_its_error(client, db, logged_in):
    url = f"/portal/supply/{logged_in['supply_point'].id}/direct-debit"
    body = post_form(client, url, {"iban": "", "holder_last_name": ""}).get_data(as_text=True)
    accept = _tag(body, "accept")
    assert 'aria-invalid="true"' in accept and 'aria-describedby="accept-err"' in accept
    assert 'href="#accept"' in body and 'href="#iban"' in body


def test_F04_personal_fields_carry_autocomplete_tokens(client, logged_in):
    body = client.get("/portal/personal-data").get_data(as_text=True)
    expected = {"last_name": "family-name", "first_name": "given-name", "birth_date": "bday",
                "address": "address-line1", "post_code": "postal-code", "city": "address-level2",
                "province": "address-level1", "phone": "tel", "email": "email"}
    for fid, token in expected.items():
        assert f'autocomplete="{token}"' in _tag(body, fid), fid
    assert "autocomplete" not in _tag(body, "tax_code")
    mailing = client.get(f"/portal/supply/{logged_in['supply_point'].id}/mailing-address").get_data(as_text=True)
    assert 'autocomplete="name"' in _tag(mailing, "name")
    assert 'autocomplete="postal-code"' in _tag(mailing, "post_code")
    account = client.get("/portal/account").get_data(as_text=True)
    assert 'autocomplete="current-password"' in _tag(account, "pw-current_password")
    assert 'autocomplete="new-password"' in _tag(account, "pw-password")
    assert 'autocomplete="username"' in _tag(account, "un-username")


def test_F01_sign_in_fields_keep_their_own_autocomplete(client, db):
    body = client.get("/portal/login").get_data(as_text=True)
    assert 'autocomplete="username"' in _tag(body, "username")
    assert 'autocomplete="current-password"' in _tag(body, "password")
    assert _tag(body, "password").count("autocomplete=") == 1


def _labels_and_first_row(body: str) -> tuple[list[str], list[str]]:
    """The header texts of the page's first data table and the data-labels of its first row."""
    table = body[body.index("<table"):body.index("</table>")]
    head = re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", table, re.S)
    labels = [" ".join(re.sub(r"<[^>]+>|[▲▼]", " ", h).split()) for h in head]
    row = table[table.index("<tbody>"):]
    row = row[:row.index("</tr>")]
    return labels, re.findall(r'<td data-label="([^"]*)"', row)


def test_F07_invoice_cells_carry_their_column_labels(client, logged_in):
    body = client.get("/portal/invoices").get_data(as_text=True)
    assert '<table class="cards data invoices"' in body
    labels, cells = _labels_and_first_row(body)
    assert labels[:3] == ["Numero", "Data", "Importo"]
    assert "Stato" in labels
    assert cells == labels


def test_F10_reading_cells_carry_their_column_labels(client, logged_in):
    body = client.get(f"/portal/supply/{logged_in['supply_point'].id}/consumption").get_data(as_text=True)
    labels, cells = _labels_and_first_row(body)
    assert {"Lettura", "Tipo", "Consumo", "Matricola contatore"} <= set(labels)
    assert cells == labels


def test_cards_filter_spans_sorting_marks_and_empty_rows():
    html = Markup('<table class="data"><thead><tr><th colspan="2">Da <b>qui</b></th>'
                  '<th><a href="?s">Importo <span aria-hidden="true">▼</span></a></th></tr></thead>'
                  '<tbody><tr><td>1</td><td class="num">2</td><td>3 &amp; 4</td></tr>'
                  '<tr><td colspan="3">Nessuna riga.</td></tr></tbody></table>')
    out = str(cards(html))
    assert out.startswith('<table class="cards data">')
    assert '<td data-label="Da qui">1</td><td data-label="Da qui" class="num">2</td>' in out
    assert '<td data-label="Importo">3 &amp; 4</td>' in out
    assert '<td class="card-wide" colspan="3">Nessuna riga.</td>' in out
