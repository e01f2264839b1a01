"""The provider's HTTP glue below the endpoints: its pages (templates in ``idp/templates/``, messages in
``idp/messages.toml``) and the request helpers they need, usable by features (``idp.login``) and endpoints alike.
"""
