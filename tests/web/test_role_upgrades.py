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


GUARDS = ("ContractWorkflow", "ActivityWorkflow", "Sales", "Portfolio", "CommissionStatement")


def test_F40_init_adds_the_guard_permissions_to_an_existing_database(app, db, make_user):
    """A database from before the guards were permissions: init adds them once, with the roles'
    defaults, and an admin's later removal survives the next init."""
    from app.roles import AGENT, BACK_OFFICE, BUILTIN_ROLES, MANAGER

    sm = app.appbuilder.sm
    init_security(app.appbuilder)
    make_user(MANAGER)  # users exist: init creates no first admin
    # As the database was: no guard pairs, none remembered as applied.
    for name in BUILTIN_ROLES:
        role = sm.find_role(name)
        role.permissions = [pv for pv in role.permissions if pv.view_menu.name not in GUARDS]
        setting = db.session.get(Setting, f"roles.defaults.{name}")
        setting.value = json.dumps([p for p in json.loads(setting.value) if p[1] not in GUARDS])
    for pv in db.session.scalars(sa.select(sm.permissionview_model)).all():
        if pv.view_menu.name in GUARDS:
            db.session.delete(pv)
    db.session.commit()
    assert ("can_validate", "ContractWorkflow") not in _perms(sm, BACK_OFFICE)

    result = app.test_cli_runner().invoke(args=["sportello", "init", "--no-migrate"])
    assert result.exit_code == 0, result.output

    assert {("can_validate", "ContractWorkflow"), ("can_access", "Sales")} <= _perms(sm, BACK_OFFICE)
    assert {("can_enter", "ContractWorkflow"), ("can_access", "Sales")} <= _perms(sm, AGENT)
    assert {(p, v) for p, v in _perms(sm, "Admin") if v == "ContractWorkflow"} == {
        (p, "ContractWorkflow") for p in ("can_enter", "can_edit_any", "can_validate", "can_approve_credit",
                                          "can_activate", "can_withdraw", "can_cancel")}
    # An admin takes a new default away: the next init leaves it away.
    role = sm.find_role(MANAGER)
    role.permissions = [pv for pv in role.permissions
                        if (pv.permission.name, pv.view_menu.name) != ("can_cancel", "ContractWorkflow")]
    db.session.commit()
    init_security(app.appbuilder)
    assert ("can_cancel", "ContractWorkflow") not in _perms(sm, MANAGER)
    init_security(app.appbuilder, reset=(MANAGER,))
    assert ("can_cancel", "ContractWorkflow") in _perms(sm, MANAGER)
