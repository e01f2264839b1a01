"""Credentials from a smartphone token (スマホ用電子証明書): the virtual Android and iPhone tokens in a private pcscd,
the card agent's PIN pad, the provider's signing-certificate login, then the wallet's Credential Request — as from
the card (test_card.py); the token's PIN counters are untouched afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import ANDROID_TOKEN_LABEL, IOS_TOKEN_LABEL, create_profile
from credentials.sdjwt import HeldSdJwt
from tests.idp.cardlogin.conftest import Agent, Pki, agent, agent_port, insert, lab  # noqa: F401 (fixtures)

from .conftest import Provider
from .test_card import HOLDER, NOW, SIGN_PASSWORD, _status, card_grant, pki, provider  # noqa: F401 (fixtures)
from .test_issuance import proofs, request_body

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]


@pytest.mark.parametrize("label", [ANDROID_TOKEN_LABEL, IOS_TOKEN_LABEL])
def test_a_smartphone_token_receives_credentials(provider: Provider, agent: Agent, lab: PcscLab,  # noqa: F811
                                                 pki: Pki, label: str, tmp_path: Path) -> None:  # noqa: F811
    token = create_profile(tmp_path / "token.json", pki_dir=pki.directory, now=NOW, sign_password=SIGN_PASSWORD,
                           holder=HOLDER, token_label=label)
    insert(lab, token)
    granted = card_grant(provider, agent, ["jp_basic4"])
    _, jwts = proofs(granted)
    answer = granted.post("credential_endpoint", request_body(granted, "jp_basic4", jwts))
    assert answer.status_code == 200, answer.text
    credential = answer.json()["credentials"][0]["credential"]
    assert HeldSdJwt.parse(credential).claims["name"] == HOLDER.name
    assert _status(provider, credential) == 0
    assert token.card().counters == {ef: ref.max_tries for ef, ref in token.content().pins.items()}
