"""Sales tests sell from the demo offer catalogue (F-18), as the demo does."""
import pytest


@pytest.fixture(autouse=True)
def offer_catalogue(db):
    from app.services.catalog.offers import seed_demo

    seed_demo()
    yield
