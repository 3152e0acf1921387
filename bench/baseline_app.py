"""The baseline for bench/portal.py: a minimal Flask route doing one indexed query and
rendering a file template, on the same database as the product."""
import os

import sqlalchemy as sa
from flask import Flask, render_template, request

app = Flask(__name__, template_folder="templates")
engine = sa.create_engine(os.environ["DATABASE_URL"])


@app.route("/invoices")
def invoices():
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT number, invoice_date, amount, status FROM invoices WHERE customer_id = :c "
            "ORDER BY invoice_date DESC LIMIT 20"), {"c": request.args.get("customer", type=int)}).all()
    return render_template("baseline.html", rows=rows)
