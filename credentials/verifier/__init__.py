"""The verifier service for relying parties (``python -m credentials verifier``): OpenID4VP 1.0 with DCQL over
the protocol pieces of :mod:`credentials.oid4vp`.

* :mod:`.settings` — every setting, documented (the one defaults file);
* :mod:`.store` — transaction state in SQLite or PostgreSQL (why a database: its docstring);
* :mod:`.service` — create request, serve the Request Object, accept the response, hand out the result;
* :mod:`.app` — the HTTP interface (its docstring is the API);
* :mod:`.runtime` — building a worker from the settings; :mod:`.cli` — the command line.

Never imports ``idp``.
"""
