"""Customer portal: accounts and first access (F-01), self-readings (F-02), requests (F-03,
F-09), customer data and mailing address (F-04, F-05), direct debit (F-06), invoices (F-07),
invoice delivery settings (F-08), consumption history (F-10), the home page's overview of what
is owed, the last readings and notices (F-07, F-10), personal API tokens and data export
(F-61)."""
