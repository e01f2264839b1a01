"""HTTP glue of the provider, below the protocol (:mod:`idp.oauth`): reading request bodies, building error
responses, rendering pages. It knows litestar and the lower modules (``idp.errors``, ``idp.metrics``,
``idp.settings``), never the protocol, the features or the endpoints."""
