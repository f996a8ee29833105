"""Database layer: every table lives in :mod:`db.models`, engines and sessions in :mod:`db.session`."""
