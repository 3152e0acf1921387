"""F-40: built-in roles survive admins' changes across upgrades; reset restores defaults."""
import json

import sqlalchemy as sa

from app.models import Setting
from app.roles import CALL_CENTER
from app.security import init_security


def _perms(sm, role):
    return {(pv.permission.name, pv.view_menu.name) for pv in sm.find_role(role).permissions}


def test_F40_upgrade_keeps_admin_changes_and_adds_new_defaults(app, db):
    sm = app.appbuilder.sm
    init_security(app.appbuilder, reset=(CALL_CENTER,))  # a known starting point
    role = sm.find_role(CALL_CENTER)
    before = _perms(sm, CALL_CENTER)
    assert ("can_list", "CustomerView") in before
    # An admin takes one default away and grants something extra.
    role.permissions = [pv for pv in role.permissions
                        if (pv.permission.name, pv.view_menu.name) != ("can_list", "MeterView")]
    role.permissions.append(sm.find_permission_view_menu("can_list", "SyncRunView"))
    # A default the roles have never had (as a new view in an upgrade would bring).
    setting = db.session.get(Setting, f"roles.defaults.{CALL_CENTER}")
    applied = [p for p in json.loads(setting.value) if p != ["can_show", "PaymentView"]]
    setting.value = json.dumps(applied)
    role.permissions = [pv for pv in role.permissions
                        if (pv.permission.name, pv.view_menu.name) != ("can_show", "PaymentView")]
    db.session.commit()

    init_security(app.appbuilder)  # what `flask sportello init` does on upgrade

    after = _perms(sm, CALL_CENTER)
    assert ("can_list", "MeterView") not in after  # the admin's removal stays
    assert ("can_list", "SyncRunView") in after  # the admin's grant stays
    assert ("can_show", "PaymentView") in after  # the new default arrives

    init_security(app.appbuilder, reset=(CALL_CENTER,))  # `flask sportello reset-role`
    assert _perms(sm, CALL_CENTER) == before


def test_F40_reset_role_command_refuses_unknown_roles(app, db):
    result = app.test_cli_runner().invoke(args=["sportello", "reset-role", "Nobody"])
    assert result.exit_code != 0 and "not a built-in role" in result.output
    ok = app.test_cli_runner().invoke(args=["sportello", "reset-role", CALL_CENTER])
    assert ok.exit_code == 0, ok.output
