"""Identity: the OpenID Connect provider (litestar).

Layers, each importing only those below (``[tool.importlinter]`` in pyproject.toml checks it)::

    idp.__main__ > idp.cli > idp.demo     entry points
    idp.app > idp.jobs                    composition: opens Services with the features, registers plug-ins,
                                          mounts the endpoints (idp.endpoints.ENDPOINTS)
    idp.endpoints                         one module per endpoint: ROUTES, METADATA; none imports another
    idp.vci                               feature: the credential issuer (may import idp.login)
    idp.login                             feature: card login
    idp.oauth                             OAuth/OIDC protocol; plug-in registries (grants, authorization_details
                                          types, authenticators) and the one access guard (idp.oauth.access)
    idp.web                               HTTP glue (forms, error responses, pages through templates)
    idp.runtime > idp.signing > idp.storage > idp.errors | metrics | clients | settings

Below every layer: :mod:`servicekit` (settings engine, logs, KEKs, database, migrations, HTTP bodies and errors,
outbound client, templates, messages) and :mod:`keys`.
"""
