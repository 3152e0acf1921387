"""Core: what every area uses. Audit log (F-27), ending sessions (F-40), and the shared
mechanisms: settings registry (F-42), errors, units of work, queues, PDF rendering."""
