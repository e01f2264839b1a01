"""What the test suites share, in one place: server processes (:mod:`.processes`), the private PostgreSQL
cluster (:mod:`.postgres`), the PC/SC lab (:mod:`.pcsc`) and the outside test vectors (:mod:`.vectors`).

The fixtures built on them (``postgres``, the vector roots) are declared once in ``tests/conftest.py``.
"""
