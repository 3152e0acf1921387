"""Domain operations: every business rule and state machine lives in a module here."""
