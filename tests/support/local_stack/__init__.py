"""TEST ONLY: a small SAM template and handlers that the local stack's own tests run (never deployed)."""
