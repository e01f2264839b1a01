"""HTTP glue of the provider, below the protocol (:mod:`idp.oauth`): reading request bodies, building error
responses, rendering pages (templates in ``idp/templates/``, ja/en messages in ``idp/messages.toml``). It knows
litestar, :mod:`servicekit` and the lower modules (``idp.errors``, ``idp.metrics``, ``idp.settings``), never the
protocol, the features or the endpoints."""
