"""A test and demo holder (``python -m credentials wallet``): receives SD-JWT VCs over OpenID4VCI 1.0
(:mod:`.issuance`, both grants; the person's login and consent in :mod:`.login`), keeps them with their holder
keys in a file (:mod:`.store`), and presents them over OpenID4VP 1.0 with DCQL and ``direct_post``
(:mod:`.presentation`). Command line: :mod:`.cli`."""
