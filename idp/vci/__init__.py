"""The credential issuer (OpenID4VCI 1.0), a feature above the protocol layer (:mod:`idp.oauth`): its process-wide
part is a :class:`idp.runtime.Services` extension (:func:`idp.vci.service.issuer_of`), and its plug-ins — the
pre-authorized code grant and the ``openid_credential`` authorization details type — are installed by the
composition layer (:func:`idp.vci.setup.install`). It may import :mod:`idp.login`; nothing below imports it."""
