"""Mailing: message templates (F-41), outgoing mail and SMTP, and the nightly invoice e-mails
(F-31): queue (`invoice_queue`) -> message (`invoice_message`) -> sender (`invoice_sender`),
with signed links (`invoice_links`)."""
