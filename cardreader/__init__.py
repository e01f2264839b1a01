"""Card reader: APDUs, the JPKI application over PC/SC, and a virtual JPKI card."""
