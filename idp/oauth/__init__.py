"""OAuth 2.0 / OpenID Connect protocol pieces shared by the endpoints (one module per concern, after
Authlib's one-folder-per-RFC layout): client authentication, DPoP, PKCE, request objects, grants and
tokens, and the access guard of protected resources (:mod:`idp.oauth.access`).

This layer never imports a feature (:mod:`idp.vci`, :mod:`idp.login`), an endpoint or the application: features
plug in through registries the composition layer (:mod:`idp.app`) fills — grant types
(:mod:`idp.oauth.grants`), ``authorization_details`` types (:mod:`idp.oauth.authorization_request.details`) and
authenticators (:mod:`idp.oauth.authenticator`) — and keep their process-wide state as
:class:`idp.runtime.Services` extensions. The endpoints live in :mod:`idp.endpoints`, one module each."""
