"""Every customer page renders for a logged-in customer (Italian, no-store), and viewing pages
leaves the browser's session cookie as it is."""


def test_pages_render(client, logged_in):
    sp = logged_in["supply_point"].id
    inv = logged_in["invoice"].id
    for url in ["/portal/home", f"/portal/supply/{sp}/reading", f"/portal/supply/{sp}/consumption",
                "/portal/invoices", f"/portal/invoices/{inv}", f"/portal/invoices/{inv}/correction",
                "/portal/personal-data", f"/portal/supply/{sp}/mailing-address",
                f"/portal/supply/{sp}/direct-debit", f"/portal/supply/{sp}/invoice-email",
                "/portal/requests", "/portal/account", "/portal/information"]:
        client.get(url)  # the first page of the session stores its CSRF token in the cookie
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.get_data(as_text=True)[-3000:])
        assert resp.headers["Cache-Control"] == "no-store"
        assert '<html lang="it">' in resp.get_data(as_text=True)
        # nothing in the session changes on a page view: no cookie is sent back
        assert "Set-Cookie" not in resp.headers, (url, resp.headers["Set-Cookie"])
