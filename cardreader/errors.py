"""Typed card errors: a machine-readable reason plus a message a kiosk can show (English and Japanese).

Every failure of the card layer raises a subclass of :class:`CardError`. ``reason`` is stable and meant
for programs (JSON output, HTTP error bodies); ``message`` / ``message_ja`` are short sentences for the
person in front of the reader; ``detail`` is a technical note for logs.

No message, detail or repr ever contains a PIN: the classes below are built from counts, status words and
file identifiers only (PIN safety rule, jpki-card-and-certs.md §1.4 and the project brief).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class CardReason(StrEnum):
    """Machine-readable reason codes of the card layer, stable across releases."""

    # PIN handling (jpki-card-and-certs.md §1.4)
    PIN_INCORRECT = "pin_incorrect"
    PIN_BLOCKED = "pin_blocked"
    PIN_FORMAT = "pin_format"
    LAST_TRY_NEEDS_CONFIRMATION = "last_try_needs_confirmation"
    # status words from the card (§1.6)
    SECURITY_STATUS_NOT_SATISFIED = "security_status_not_satisfied"
    FILE_NOT_FOUND = "file_not_found"
    WRONG_LENGTH = "wrong_length"
    UNEXPECTED_STATUS = "unexpected_status"
    MALFORMED_RESPONSE = "malformed_response"
    NOT_JPKI = "not_jpki"
    CERTIFICATE_ABSENT = "certificate_absent"
    # reader and PC/SC (pcsc-virtual-card.md, "pyscard behaviour in failure cases")
    PCSC_UNAVAILABLE = "pcsc_unavailable"
    NO_READER = "no_reader"
    READER_REFUSED = "reader_refused"
    NO_CARD = "no_card"
    CARD_REMOVED = "card_removed"
    CARD_RESET = "card_reset"
    READER_BUSY = "reader_busy"
    CARD_TIMEOUT = "card_timeout"
    PCSC_ERROR = "pcsc_error"


class CardError(Exception):
    """Base of every card-layer failure.

    ``detail`` is an optional technical note (never a secret); ``sw`` is the status word when the card
    answered one.
    """

    reason: ClassVar[CardReason]
    en: ClassVar[str]
    ja: ClassVar[str]

    def __init__(self, detail: str = "", *, sw: int | None = None) -> None:
        self.detail = detail
        self.sw = sw
        super().__init__(f"{self.reason.value}: {self.message}" + (f" ({detail})" if detail else ""))

    @property
    def message(self) -> str:
        """The English sentence for the person at the reader."""
        return self.en

    @property
    def message_ja(self) -> str:
        """The Japanese sentence for the person at the reader."""
        return self.ja

    def as_dict(self) -> dict[str, object]:
        """The error as a JSON-ready mapping."""
        out: dict[str, object] = {"reason": self.reason.value, "message": self.message, "message_ja": self.message_ja}
        if self.detail:
            out["detail"] = self.detail
        if self.sw is not None:
            out["sw"] = f"{self.sw:04X}"
        return out


class PinIncorrect(CardError):
    """The card refused the PIN (63Cx); ``tries_left`` attempts remain (x > 0)."""

    reason = CardReason.PIN_INCORRECT
    en = "The PIN is incorrect. {n} tries left."
    ja = "暗証番号が違います。残り{n}回です。"

    def __init__(self, tries_left: int, *, sw: int | None = None) -> None:
        self.tries_left = tries_left
        super().__init__(sw=sw)

    @property
    def message(self) -> str:
        return self.en.format(n=self.tries_left)

    @property
    def message_ja(self) -> str:
        return self.ja.format(n=self.tries_left)

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "tries_left": self.tries_left}


class PinBlocked(CardError):
    """The PIN is blocked: 63C0 on the attempt that used the last try, 6983/6984 afterwards."""

    reason = CardReason.PIN_BLOCKED
    en = "The PIN is blocked. Please have it reset at your municipal office."
    ja = "暗証番号がロックされています。お住まいの市区町村の窓口で初期化の手続きをしてください。"


class PinFormatError(CardError):
    """The PIN does not have the card's format; it was not sent (no try was spent)."""

    reason = CardReason.PIN_FORMAT
    en = "The PIN must be exactly 4 digits."
    ja = "暗証番号は数字4桁です。"
    en_signing = "The signing password must be 6 to 16 letters (A-Z) and digits."
    ja_signing = "署名用パスワードは英字（A-Z）と数字の6〜16文字です。"

    def __init__(self, *, signing: bool) -> None:
        self.signing = signing
        super().__init__()

    @property
    def message(self) -> str:
        return self.en_signing if self.signing else self.en

    @property
    def message_ja(self) -> str:
        return self.ja_signing if self.signing else self.ja


class LastTryNeedsConfirmation(CardError):
    """Only one try is left: the PIN is not sent unless the caller confirms explicitly."""

    reason = CardReason.LAST_TRY_NEEDS_CONFIRMATION
    en = "Only one try is left. A wrong PIN now blocks the card. Confirm to continue."
    ja = "残り1回です。間違えるとロックされます。続ける場合は確認してください。"


class SecurityStatusNotSatisfied(CardError):
    """6982: the operation needs a PIN that has not been verified in this session."""

    reason = CardReason.SECURITY_STATUS_NOT_SATISFIED
    en = "The card needs the PIN for this operation."
    ja = "この操作には暗証番号の入力が必要です。"


class FileNotFound(CardError):
    """6A82: the file (or application) does not exist on this card."""

    reason = CardReason.FILE_NOT_FOUND
    en = "The card does not hold the requested data."
    ja = "カードに該当するデータがありません。"


class NotJpkiCard(CardError):
    """The card has no JPKI application (SELECT by AID answered 6A82)."""

    reason = CardReason.NOT_JPKI
    en = "This is not a My Number card (no JPKI application)."
    ja = "マイナンバーカードではありません（公的個人認証APがありません）。"


class CertificateAbsent(CardError):
    """EF 0008 says the card carries no such certificate (e.g. no signing certificate under 15)."""

    reason = CardReason.CERTIFICATE_ABSENT
    en = "This card has no certificate of that kind."
    ja = "このカードには該当する電子証明書がありません。"


class WrongLength(CardError):
    """6700: the card refused the command's length."""

    reason = CardReason.WRONG_LENGTH
    en = "The card refused the request (wrong length)."
    ja = "カードが要求を受け付けませんでした（長さの誤り）。"


class UnexpectedStatus(CardError):
    """Any other status word the operation does not expect (``sw`` holds it)."""

    reason = CardReason.UNEXPECTED_STATUS
    en = "The card answered with an unexpected status."
    ja = "カードから想定外の応答がありました。"


class MalformedResponse(CardError):
    """A response that breaks the protocol: no status word, short data, a bad DER length, garbage."""

    reason = CardReason.MALFORMED_RESPONSE
    en = "The card's answer could not be read. Please try again."
    ja = "カードの応答を読み取れませんでした。もう一度お試しください。"


class PcscUnavailable(CardError):
    """The PC/SC service (pcscd) is not running or went away (0x8010001D)."""

    reason = CardReason.PCSC_UNAVAILABLE
    en = "The card reader service is not available."
    ja = "カードリーダーのサービスが利用できません。"


class NoReader(CardError):
    """No card reader is connected (or none matches the requested name)."""

    reason = CardReason.NO_READER
    en = "No card reader is connected."
    ja = "カードリーダーが接続されていません。"


class ReaderRefused(CardError):
    """A virtual (test) reader was chosen outside test mode."""

    reason = CardReason.READER_REFUSED
    en = "This card reader is not allowed."
    ja = "このカードリーダーは使用できません。"


class NoCard(CardError):
    """The reader has no card (0x8010000C)."""

    reason = CardReason.NO_CARD
    en = "Please place your My Number card on the reader."
    ja = "マイナンバーカードをカードリーダーに置いてください。"


class CardRemoved(CardError):
    """The card was removed or stopped answering in the middle of an operation."""

    reason = CardReason.CARD_REMOVED
    en = "The card was removed. Keep it on the reader until the end and try again."
    ja = "カードが離れました。終わるまでカードを置いたまま、もう一度お試しください。"


class CardReset(CardError):
    """Another application reset the card in the middle of the operation (0x80100068)."""

    reason = CardReason.CARD_RESET
    en = "The card was reset by another application. Please try again."
    ja = "他のアプリケーションがカードをリセットしました。もう一度お試しください。"


class ReaderBusy(CardError):
    """Another application holds the reader (0x8010000B, or our transaction timeout expired)."""

    reason = CardReason.READER_BUSY
    en = "The card reader is in use by another application. Please wait and try again."
    ja = "カードリーダーは他のアプリケーションが使用中です。しばらくしてからお試しください。"


class CardTimeout(CardError):
    """The card did not answer within our time limit."""

    reason = CardReason.CARD_TIMEOUT
    en = "The card did not respond in time. Please place it on the reader again."
    ja = "カードが応答しません。カードを置き直してください。"


class PcscError(CardError):
    """A PC/SC failure with no more specific meaning (``detail`` names the code)."""

    reason = CardReason.PCSC_ERROR
    en = "The card reader reported an error."
    ja = "カードリーダーでエラーが発生しました。"


__all__ = [
    "CardError",
    "CardReason",
    "CardRemoved",
    "CardReset",
    "CardTimeout",
    "CertificateAbsent",
    "FileNotFound",
    "LastTryNeedsConfirmation",
    "MalformedResponse",
    "NoCard",
    "NoReader",
    "NotJpkiCard",
    "PcscError",
    "PcscUnavailable",
    "PinBlocked",
    "PinFormatError",
    "PinIncorrect",
    "ReaderBusy",
    "ReaderRefused",
    "SecurityStatusNotSatisfied",
    "UnexpectedStatus",
    "WrongLength",
]
