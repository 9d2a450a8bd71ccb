"""The citizens' pages: the report form at / and the tracking page (no login)."""
