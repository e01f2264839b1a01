"""Revocation: CRLs (RFC 5280 §5, §6.3), OCSP (RFC 6960), platform-operator answers, and the fail-closed
policy that combines them. Pure functions: the validation time is always an argument."""

from keys.revocation.certid import CertificateId
from keys.revocation.crl import CrlIndex, RevokedEntry, check_crl, load_crl
from keys.revocation.ocsp import CachedOcspStatus, check_ocsp_response, judge_cached_ocsp
from keys.revocation.platform import (
    PlatformAnswer,
    PlatformOperator,
    PlatformStatus,
    judge_platform_answer,
    parse_platform_answer,
)
from keys.revocation.policy import NoFreshStatus, RevocationPolicy, Unchecked, check_revocation
from keys.revocation.status import CertStatus, RevocationStatus, Revoked

__all__ = [
    "CachedOcspStatus",
    "CertStatus",
    "CertificateId",
    "CrlIndex",
    "NoFreshStatus",
    "PlatformAnswer",
    "PlatformOperator",
    "PlatformStatus",
    "RevocationPolicy",
    "RevocationStatus",
    "Revoked",
    "RevokedEntry",
    "Unchecked",
    "check_crl",
    "check_ocsp_response",
    "check_revocation",
    "judge_cached_ocsp",
    "judge_platform_answer",
    "load_crl",
    "parse_platform_answer",
]
