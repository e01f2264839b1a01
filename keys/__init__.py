"""Trust and keys: the hardened verification core (pure), the JPKI test PKI and the service keys."""
