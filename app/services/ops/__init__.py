"""Operations: readiness and health checks, the system status the admin sees, and the values
the metrics page reads from the database at scrape time (outbox depth and age, alignment lag).

Above the business areas (it reads sync and mailing), imported only by views and the CLI.
"""
