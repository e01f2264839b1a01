"""Verifiable credentials, provider-independent: SD-JWT (:mod:`.sdjwt`), SD-JWT VC (:mod:`.sdjwtvc`), the Token
Status List (:mod:`.status`), the credentials we issue from a JPKI signing certificate (:mod:`.catalog`), the
verifier library (:mod:`.verify`) and DCQL matching (:mod:`.dcql`). Errors: :mod:`.errors`. Never imports ``idp``.
"""
