"""Sales network: contract entry wizard (F-11), contract documents (F-12), the contract workflow
(F-13), portfolio (F-15), commissions (F-16) and prospects (F-17)."""
