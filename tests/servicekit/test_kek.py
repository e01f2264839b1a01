"""``servicekit.kek``: configured KEKs, a KEK file, or one development KEK created once with mode 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from keys.service.encryption import KeyEncryptionKeys
from keys.service.errors import KeyServiceError
from servicekit.kek import KekSettings, load_keks
from servicekit.settings import Secret

KEK = KeyEncryptionKeys.generate()
AAD = b"test"


def _same(a: KeyEncryptionKeys, b: KeyEncryptionKeys) -> bool:
    return b.unwrap(a.wrap(b"x", AAD), AAD) == b"x"


def test_configured_keks_win(tmp_path: Path) -> None:
    keks = load_keks(KekSettings(keks=Secret(KEK)), tmp_path, development_file="dev-kek")
    assert _same(keks, KeyEncryptionKeys.parse(KEK))
    assert not (tmp_path / "dev-kek").exists()


def test_kek_file(tmp_path: Path) -> None:
    path = tmp_path / "keks"
    path.write_text(f"# current\n{KEK}\n", encoding="ascii")
    assert _same(load_keks(KekSettings(kek_file=str(path)), tmp_path, development_file="dev-kek"),
                 KeyEncryptionKeys.parse(KEK))
    with pytest.raises(KeyServiceError, match="cannot read KEK file"):
        load_keks(KekSettings(kek_file=str(tmp_path / "absent")), tmp_path, development_file="dev-kek")
    path.write_text("not base64url!\n", encoding="ascii")
    with pytest.raises(KeyServiceError, match="not base64url"):
        load_keks(KekSettings(kek_file=str(path)), tmp_path, development_file="dev-kek")


def test_development_kek_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    first = load_keks(KekSettings(), data_dir, development_file="dev-kek")
    path = data_dir / "dev-kek"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _same(first, load_keks(KekSettings(), data_dir, development_file="dev-kek"))
    assert [p.name for p in data_dir.iterdir()] == ["dev-kek"]  # no staging file left behind


def test_settings_checks() -> None:
    assert KekSettings(keks=Secret(KEK), kek_file="/k").kek_problems() == [
        "keys.keks and keys.kek_file: set one, not both"]
    assert KekSettings(keks=Secret(KEK)).kek_problems() == []
    assert not KekSettings().configured
    assert KekSettings(kek_file="/k").configured
