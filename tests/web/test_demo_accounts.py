"""Demo accounts exist only in demo mode, with fresh random passwords that work."""
from tests import factories
from tests.conftest import csrf_token


def test_demo_users_refused_outside_demo_mode(app, db):
    app.config["DEMO_MODE"] = False
    result = app.test_cli_runner().invoke(args=["sportello", "demo-users"])
    assert result.exit_code != 0 and "demo mode" in result.output


def test_demo_users_print_working_passwords_and_a_registration_hint(app, client, db):
    factories.billing_graph()
    app.config["DEMO_MODE"] = True
    try:
        result = app.test_cli_runner().invoke(args=["sportello", "demo-users"])
    finally:
        app.config["DEMO_MODE"] = False
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if "demo-back-office" in l)
    username, password = line.split()[-2:]
    page = client.get("/login/").get_data(as_text=True)
    client.post("/login/", data={"username": username, "password": password, "csrf_token": csrf_token(page)})
    assert client.get("/customerview/list/").status_code == 200
    assert "demo-agent" in result.output and "web code WC" in result.output
