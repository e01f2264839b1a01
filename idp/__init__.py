"""Identity: the OpenID Connect provider (litestar)."""
