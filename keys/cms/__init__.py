"""CMS for card signatures over documents (RFC 5652; CAdES-BES, PAdES signed attributes): DigestInfo, signed
attributes, detached SignedData assembly, and offline verification. Imports only keys, asn1crypto and cryptography."""
