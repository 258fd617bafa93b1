"""Security: login throttling and lockout, session revocation, audit lines, idempotent
money requests, retention of replay/event tables.

See ``docs/security.md`` for the threat model and which test proves each defence.
"""
