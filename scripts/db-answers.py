"""Exit 0 when the database at argv[1] accepts a connection within 3 seconds."""
import sys

import sqlalchemy as sa

url = sys.argv[1].replace("postgresql://", "postgresql+psycopg://", 1)
try:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
except Exception as exc:  # any failure means "not available"
    print(f"no database at {sys.argv[1]}: {exc.__class__.__name__}", file=sys.stderr)
    sys.exit(1)
