"""Alembic migrations of the verifier service's schema (run by
:meth:`credentials.verifier.store.TransactionStore.migrate`; revision kept in ``verifier_alembic_version``)."""
