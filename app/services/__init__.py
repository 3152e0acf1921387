"""Domain operations, one package per area; areas depend downwards only:

    portal | sales  ->  crm  ->  mailing  ->  sync  ->  core

`portal` and `sales` never import each other; no service imports views, forms or the security
manager (`.importlinter` holds the contract CI checks).
"""
