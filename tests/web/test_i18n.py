"""Italian first, English second: the back office speaks the user's chosen language."""
from app.roles import BACK_OFFICE


def test_backoffice_is_italian_by_default_and_switches_to_english(client, login_as):
    login_as(BACK_OFFICE)
    page = client.get("/customerview/list/").get_data(as_text=True)
    assert "Clienti" in page and "Codice cliente" in page
    page = client.get("/customerview/list/?_l_=en").get_data(as_text=True)
    assert "Customer code" in page and "Codice cliente" not in page


def test_enum_labels_are_translated(client, login_as, db):
    from tests import factories

    graph = factories.billing_graph()
    login_as(BACK_OFFICE)
    page = client.get(f"/supplypointview/show/{graph['supply_point'].id}").get_data(as_text=True)
    assert "Gas metano" in page and "Addebito diretto SEPA" in page
