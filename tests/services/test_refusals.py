"""F-52: billing's refusals read back for staff — known messages translated, the original kept."""
from flask_babel import force_locale

from app.services.sync.refusals import explain


def test_F52_nav_and_sap_refusals_are_translated_where_known(app):
    nav = explain("[fault] PortalServices.SubmitReading: The reading 123456 does not fit a meter "
                  "with 5 digits.")
    sap = explain("[fault] ZISU_PORTAL.BAPI_EL_MEAS_READ: Meter reading result 123456 has too "
                  "many digits (EL 305)")
    unknown = explain("[fault] ZISU_PORTAL.BAPI_X: Something else (ZPORTAL 099)")
    with app.test_request_context(), force_locale("it"):
        assert str(nav.meaning) == str(sap.meaning) == \
            "La lettura ha più cifre del quadrante del contatore."
    with app.test_request_context(), force_locale("en"):
        assert str(nav.meaning) == "The reading has more digits than the meter's dial."
    assert nav.original.startswith("The reading 123456 does not fit") and nav.code == ""
    assert sap.code == "EL 305" and sap.original.endswith("(EL 305)")
    assert not unknown.known and unknown.code == "ZPORTAL 099" and "Something else" in unknown.original
    assert explain("") is None
