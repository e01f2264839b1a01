"""OAuth 2.0 / OpenID Connect protocol pieces shared by the endpoints (one module per concern, after
Authlib's one-folder-per-RFC layout): client authentication, DPoP, PKCE, request objects, grants and
tokens. The endpoints themselves live in :mod:`idp.endpoints`, one module each."""
