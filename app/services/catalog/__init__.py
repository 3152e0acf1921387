"""Catalogue area: the offers the company sells (F-18), read by sales (wizard, contract
documents) and by the portal (what-if on tariffs); edited by admins in the back office."""
