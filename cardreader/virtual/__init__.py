"""A virtual JPKI card for tests and demos: the card (:mod:`.card`, a pure APDU state machine), its link to
pcscd's vpcd driver (:mod:`.vpcd`), card profiles (:mod:`.profile`) and a private PC/SC lab that runs
pcscd and the card by PID (:mod:`.lab`).

Test material only: its certificates chain to the ``O=JPKI-TEST`` roots, which the trust store refuses
outside test mode, and its reader ("Virtual PCD") is refused by :mod:`cardreader.pcsc` outside test mode.
"""
