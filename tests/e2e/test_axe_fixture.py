"""The suite's axe fixture finds what it should: a page with known faults fails with a readable
message naming the rule, its help and the elements."""
import pytest

from tests.axe import report

pytestmark = pytest.mark.browser

FAULTY = """<!doctype html><html lang="it"><head><title>Prova</title></head><body><main>
<h1>Prova</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="no-alt">
<label>Nome</label><input id="unlabelled">
<p style="color:#bbb;background:#fff">testo chiaro</p>
<table><thead><tr><th><a href="#" aria-sort="ascending">Data</a></th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>
</main></body></html>"""


def test_axe_reports_critical_serious_and_moderate_violations(page, axe):
    page.set_content(FAULTY)
    found = axe.check(page, "faulty page", count=False)
    rules = {v.rule for v in found}
    assert {"image-alt", "label", "color-contrast", "aria-allowed-attr"} <= rules, rules
    message = report(found)
    assert "image-alt (critical)" in message
    assert "#no-alt" in message and "#unlabelled" in message
    assert "faulty page:" in message


def test_axe_passes_a_clean_page(page, axe):
    page.set_content('<!doctype html><html lang="it"><head><title>Prova</title></head>'
                     '<body><main><h1>Prova</h1><p>Tutto in ordine.</p></main></body></html>')
    assert axe.check(page, "clean page", count=False) == []
