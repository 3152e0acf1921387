"""CRM: activities and their transition table (F-20, F-21), assignments and iCalendar invitations
(F-22), general contacts (F-23), statistics (F-24), the call center's search (F-25), the customer
timeline (F-26) and deadline reminders (F-32)."""
