"""Role names and role sets. Imports nothing of ours, so every layer may read it.

Permissions are what code checks (`app.permissions`); role names remain for the roles declared
in code (their default permissions), the system actor and the customer.
"""
from __future__ import annotations

ADMIN = "Admin"
MANAGER = "Manager"
BACK_OFFICE = "Back office"
CREDIT_CHECK = "Credit check"
CALL_CENTER = "Call center"
AGENT = "Agent"
CUSTOMER = "Customer"
BUILTIN_ROLES = (ADMIN, MANAGER, BACK_OFFICE, CREDIT_CHECK, CALL_CENTER, AGENT, CUSTOMER)
STAFF_ROLES = (ADMIN, MANAGER, BACK_OFFICE, CREDIT_CHECK, CALL_CENTER)

# FAB's read permissions of a model view.
READ = ("can_list", "can_show")

# Pseudo-views guarding what a role may see unmasked.
BANK_DATA = "BankData"
TAX_CODE = "TaxCode"
SEE = "can_see"
