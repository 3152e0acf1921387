"""Sportello billing simulator: a Dynamics NAV-shaped SOAP server over its own SQLite DB.

See docs/simulator.md. Entry point: `python -m simulator {generate,serve,touch,info}`.
"""
