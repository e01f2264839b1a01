"""``credentials.verifier.settings``: every problem is reported at once, the environment wins over the file,
secrets never show, and every option is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from credentials.verifier.settings import Secret, SettingsError, describe, iter_options, load_settings, unsafe_warnings

KEY = "k" * 40


def test_production_needs_its_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(environ={})
    problems = "\n".join(info.value.problems)
    assert "trust.issuer_roots_dir: required" in problems
    assert "rp.api_keys: required outside test mode" in problems
    assert "client.signing_key_file" in problems  # x509_hash is the default prefix


def test_file_environment_and_checks(tmp_path: Path) -> None:
    config = tmp_path / "verifier.toml"
    config.write_text(f"""
base_url = "https://verifier.example.jp"
[client]
id_prefix = "x509_san_dns"
dns_name = "other.example.jp"
signing_key_file = "k.pem"
certificate_chain_file = "c.pem"
[trust]
issuer_roots_dir = "{tmp_path}"
issuer_root_pins = ["ABC"]
[rp]
api_keys = "{KEY}"
[presentation]
request_ttl = "5m"
""", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(config, environ={})
    problems = "\n".join(info.value.problems)
    assert "client.dns_name" in problems
    assert "issuer_root_pins" in problems
    pin = "0" * 64
    settings = load_settings(config, environ={"MYNACARD_VERIFIER_CLIENT_DNS_NAME": "verifier.example.jp",
                                              "MYNACARD_VERIFIER_TRUST_ISSUER_ROOT_PINS": pin})
    assert settings.client.dns_name == "verifier.example.jp"
    assert settings.trust.issuer_root_pins == (pin,)
    assert settings.presentation.request_ttl == 300
    assert settings.api_keys == (KEY,)
    assert KEY not in repr(settings)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    warnings = unsafe_warnings(settings, environ={"MYNACARD_VERIFIER_TYPO": "1"})
    assert "unknown environment variable MYNACARD_VERIFIER_TYPO ignored" in warnings
    with pytest.raises(SettingsError, match="SERVER_PORT: expected an integer"):
        load_settings(environ={"MYNACARD_VERIFIER_CONFIG": str(config), "MYNACARD_VERIFIER_SERVER_PORT": "x"})
    typo = tmp_path / "typo.toml"
    typo.write_text("[server]\nprot = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"server\.prot: unknown setting"):
        load_settings(typo, environ={})


def test_every_option_is_documented() -> None:
    options = list(iter_options())
    assert all(o.doc for o in options)
    assert len({o.env for o in options}) == len(options)
    table = describe()
    assert all(f"`{o.key}`" in table for o in options)
    assert str(Secret("s3cret")) == "Secret('********')"
    assert "s3cret" not in repr(Secret("s3cret"))
