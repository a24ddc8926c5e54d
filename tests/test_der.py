"""The DER reader: primitives, names, hand-built certificates, and fuzzing.

Certificates that OpenSSL will not issue come from `der_builder`. The
comparison with ``openssl x509`` on generated certificates is in test_certs.py.
"""

from __future__ import annotations

import datetime
import ssl
import subprocess
from typing import Any, Dict, List, Optional, Tuple

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import der_builder as der
from openssl_certs import OPENSSL, OPENSSL_TIMEOUT_SECONDS
from tlskit import CertificateExtension, CertificateParseError, PeerCertificate
from tlskit._certs import pem_to_der_list
from tlskit._der import (
    TLV,
    DERError,
    Reader,
    decode_bit_string,
    decode_boolean,
    decode_integer,
    decode_oid,
    decode_string,
    decode_time,
    expect,
    read_spki,
    read_tlv,
)
from tlskit._x509 import escape_attribute_value, format_name

UTC = datetime.timezone.utc
FUZZ_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def element(encoded: bytes) -> Tuple[bytes, TLV]:
    """Return ``encoded`` and the TLV of its single element."""
    return encoded, read_tlv(encoded, 0, len(encoded))


# Elements and lengths.


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x04\x00", TLV(0x04, 2, 2)),
        (b"\x04\x02ab", TLV(0x04, 2, 4)),
        (b"\x04\x81\x80" + b"x" * 0x80, TLV(0x04, 3, 0x83)),
        (b"\x04\x82\x01\x00" + b"x" * 0x100, TLV(0x04, 4, 0x104)),
        (b"\x30\x03\x02\x01\x05trailing", TLV(0x30, 2, 5)),
    ],
)
def test_read_tlv_accepts(data: bytes, expected: TLV) -> None:
    assert read_tlv(data, 0, len(data)) == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (b"\x04", "truncated"),
        (b"\x04\x05abc", "claims 5 bytes"),
        (b"\x04\x80abc", "indefinite length"),
        (b"\x04\x81\x05abcde", "non-minimal"),
        (b"\x04\x82\x00\x80" + b"x" * 0x80, "non-minimal"),
        (b"\x04\x85\x01\x00\x00\x00\x00", "out of range"),
        (b"\x04\x82\x01", "out of range"),
        (b"\x1f\x81\x01\x00", "multi-byte tag"),
    ],
)
def test_read_tlv_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(DERError, match=reason):
        read_tlv(data, 0, len(data))


def test_read_tlv_rejects_end_past_input() -> None:
    with pytest.raises(DERError, match="outside the 2-byte input") as caught:
        read_tlv(b"\x04\x05", 0, 7)
    assert caught.value.offset == 0


def test_read_tlv_stops_at_given_end() -> None:
    data = b"\x04\x03abc"
    with pytest.raises(DERError, match="claims 3 bytes but only 2 remain"):
        read_tlv(data, 0, 4)


def test_expect_rejects_other_tag() -> None:
    with pytest.raises(DERError, match="expected tag 0x30 at offset 0, found 0x04"):
        expect(b"\x04\x00", 0, 2, 0x30)


def test_reader_reads_in_order() -> None:
    data = der.sequence(der.integer(1), der.boolean(True), der.integer(2))
    reader = Reader.inside(*element(data))
    assert reader.read(0x02) == TLV(0x02, 4, 5)
    assert reader.read_optional(0x04) is None
    assert reader.read_optional(0x01) == TLV(0x01, 7, 8)
    assert reader.peek_tag() == 0x02
    assert len(reader.read_all()) == 1
    assert reader.peek_tag() is None
    reader.finish("the test SEQUENCE")


def test_reader_finish_rejects_leftover() -> None:
    data = der.sequence(der.integer(1), der.integer(2))
    reader = Reader.inside(*element(data))
    reader.read(0x02)
    with pytest.raises(DERError, match="unexpected data after the last field of Example at offset 5"):
        reader.finish("Example")


# Primitive values.


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00", 0),
        (b"\x7f", 127),
        (b"\x00\x80", 128),
        (b"\xff", -1),
        (b"\x80", -128),
        (b"\xff\x7f", -129),
        (b"\x01\x00\x00\x00\x00\x00\x00\x00\x00", 1 << 64),
    ],
)
def test_decode_integer_accepts(content: bytes, expected: int) -> None:
    assert decode_integer(*element(der.tlv(0x02, content))) == expected


@pytest.mark.parametrize("content", [b"", b"\x00\x01", b"\xff\x80", b"\x00\x00"])
def test_decode_integer_rejects(content: bytes) -> None:
    with pytest.raises(DERError, match="INTEGER at offset 2"):
        decode_integer(*element(der.tlv(0x02, content)))


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"\x00", False), (b"\xff", True), (b"\x01", True)],
)
def test_decode_boolean_accepts(content: bytes, expected: bool) -> None:
    assert decode_boolean(*element(der.tlv(0x01, content))) is expected


@pytest.mark.parametrize("content", [b"", b"\xff\xff"])
def test_decode_boolean_rejects(content: bytes) -> None:
    with pytest.raises(DERError, match="not one byte long"):
        decode_boolean(*element(der.tlv(0x01, content)))


@pytest.mark.parametrize(
    "dotted",
    [
        "2.5.4.3",
        "0.9.2342.19200300.100.1.25",
        "1.2.840.113549.1.1.11",
        "1.39.127.128.16383.16384",
        "2.999.3",
        "2.25.340282366920938463463374607431768211455",
    ],
)
def test_decode_oid_round_trips(dotted: str) -> None:
    assert decode_oid(*element(der.oid(dotted))) == dotted


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"\x55\x04\x83", "ends inside an arc"),
        (b"\x55\x80\x04", "padded arc"),
        (b"\x80\x01", "padded arc"),
        (b"\x55" + b"\x81" * 20 + b"\x01", "longer than 20 bytes"),
    ],
)
def test_decode_oid_rejects(content: bytes, reason: str) -> None:
    with pytest.raises(DERError, match=reason):
        decode_oid(*element(der.tlv(0x06, content)))


def test_decode_oid_rejects_other_tag() -> None:
    with pytest.raises(DERError, match="expected an OBJECT IDENTIFIER"):
        decode_oid(*element(der.integer(5)))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00", (b"", 0)),
        (b"\x00\xab", (b"\xab", 0)),
        (b"\x04\xf0", (b"\xf0", 4)),
    ],
)
def test_decode_bit_string_accepts(content: bytes, expected: Tuple[bytes, int]) -> None:
    assert decode_bit_string(*element(der.tlv(0x03, content))) == expected


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "no unused-bits byte"),
        (b"\x08\x00", "claims 8 unused bits"),
        (b"\x01", "claims 1 unused bits"),
        (b"\x04\xf1", "non-zero unused bits"),
    ],
)
def test_decode_bit_string_rejects(content: bytes, reason: str) -> None:
    with pytest.raises(DERError, match=reason):
        decode_bit_string(*element(der.tlv(0x03, content)))


@pytest.mark.parametrize(
    ("tag", "content", "expected"),
    [
        (0x0C, "Zoë 日本".encode(), "Zoë 日本"),
        (0x13, b"Example Ltd", "Example Ltd"),
        (0x16, b"a@example.test", "a@example.test"),
        (0x14, b"Zo\xeb", "Zoë"),
        (0x1E, "日本".encode("utf-16-be"), "日本"),
        (0x1C, "\U0001d11e".encode("utf-32-be"), "\U0001d11e"),
        (0x12, b"0123", "0123"),
        (0x1A, b"visible", "visible"),
        (0x1E, b"", ""),
        # Outside the alphabet of the ASCII types: Latin-1, as OpenSSL prints them.
        (0x13, b"Caf\xe9", "Café"),
        (0x13, b"a@b*", "a@b*"),
        (0x16, b"caf\xe9@x.test", "café@x.test"),
        (0x1A, b"\x80\xff", "\x80ÿ"),
        (0x12, b"ab\xe9", "abé"),
        # Invalid UTF-8 and code units that are no character: U+FFFD.
        (0x0C, b"Caf\xe9", "Caf\ufffd"),
        (0x0C, b"\xc3", "\ufffd"),
        (0x1E, b"\xd8\x00\x00A", "\ufffdA"),
        (0x1C, b"\x00\x11\x00\x00", "\ufffd"),
    ],
)
def test_decode_string_types(tag: int, content: bytes, expected: str) -> None:
    assert decode_string(*element(der.tlv(tag, content))) == expected


@pytest.mark.parametrize(
    ("tag", "content", "reason"),
    [
        (0x1E, b"\x00", "BMPString at offset 2 is 1 bytes long, not a multiple of its 2-byte code unit"),
        (0x1E, b"\x00C\x00", "BMPString at offset 2 is 3 bytes long"),
        (
            0x1C,
            b"\x00\x00\x00C\x00",
            "UniversalString at offset 2 is 5 bytes long, not a multiple of its 4-byte",
        ),
    ],
)
def test_decode_string_rejects_partial_code_unit(tag: int, content: bytes, reason: str) -> None:
    with pytest.raises(DERError, match=reason):
        decode_string(*element(der.tlv(tag, content)))


def test_decode_string_rejects_other_tag() -> None:
    with pytest.raises(DERError, match="expected a character string"):
        decode_string(*element(der.octet_string(b"abc")))


@pytest.mark.parametrize(
    ("tag", "text", "expected"),
    [
        (0x17, b"240102030405Z", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (0x17, b"491231235959Z", datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (0x17, b"500101000000Z", datetime.datetime(1950, 1, 1, tzinfo=UTC)),
        (0x18, b"20500101000000Z", datetime.datetime(2050, 1, 1, tzinfo=UTC)),
        (0x18, b"99991231235959Z", datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (0x18, b"19000229120000Z", None),
        (0x18, b"20000229120000Z", datetime.datetime(2000, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_decode_time(tag: int, text: bytes, expected: Optional[datetime.datetime]) -> None:
    encoded = der.tlv(tag, text)
    if expected is None:
        with pytest.raises(DERError, match="not a valid date"):
            decode_time(*element(encoded))
    else:
        assert decode_time(*element(encoded)) == expected


@pytest.mark.parametrize(
    ("tag", "text"),
    [
        (0x17, b"2401020304Z"),
        (0x17, b"240102030405+0000"),
        (0x17, b"240102030405"),
        (0x17, b"24010203040aZ"),
        (0x17, b"2401020304-5Z"),
        (0x18, b"20240102030405.5Z"),
        (0x18, b"240102030405Z"),
        (0x17, b"20240102030405Z"),
    ],
)
def test_decode_time_rejects_other_forms(tag: int, text: bytes) -> None:
    with pytest.raises(DERError, match="not in the RFC 5280 form"):
        decode_time(*element(der.tlv(tag, text)))


def test_decode_time_rejects_impossible_date() -> None:
    with pytest.raises(DERError, match="not a valid date"):
        decode_time(*element(der.tlv(0x17, b"240230000000Z")))


def test_decode_time_rejects_other_tag() -> None:
    with pytest.raises(DERError, match="expected a UTCTime or GeneralizedTime"):
        decode_time(*element(der.printable("240102030405Z")))


# Names.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("Example, Inc.", "Example\\, Inc."),
        ('a+b;c<d>e"f\\g', 'a\\+b\\;c\\<d\\>e\\"f\\\\g'),
        ("#hash", "\\#hash"),
        ("not#first", "not#first"),
        (" lead", "\\ lead"),
        ("trail ", "trail\\ "),
        (" ", "\\ "),
        ("in side", "in side"),
        ("a=b", "a=b"),
        ("nul\x00tab\tdel\x7f", "nul\\00tab\\09del\\7F"),
        ("csi\x9b2J osc\x9d0 title\x9c", "csi\\C2\\9B2J osc\\C2\\9D0 title\\C2\\9C"),
        ("caf\u00e9 \u00a0nbsp", "caf\u00e9 \u00a0nbsp"),
        ("Zoë 日本", "Zoë 日本"),
        ("", ""),
    ],
)
def test_escape_attribute_value(value: str, expected: str) -> None:
    assert escape_attribute_value(value) == expected


def _format(encoded_name: bytes) -> str:
    return format_name(*element(encoded_name))


def test_format_name_reverses_rdns() -> None:
    name = der.name(
        [("2.5.4.6", der.printable("US"))], [("2.5.4.10", der.utf8("Org"))], [("2.5.4.3", der.utf8("cn"))]
    )
    assert _format(name) == "CN=cn,O=Org,C=US"


def test_format_name_joins_multi_valued_rdn() -> None:
    name = der.name([("2.5.4.3", der.utf8("a")), ("2.5.4.11", der.utf8("b"))])
    assert _format(name) == "CN=a+OU=b"


def test_format_name_unknown_oid_as_hex() -> None:
    name = der.name([("1.2.3.4", der.printable("abc"))])
    assert _format(name) == "1.2.3.4=#1303616263"


def test_format_name_non_string_value_as_hex() -> None:
    name = der.name([("2.5.4.3", der.integer(5))])
    assert _format(name) == "CN=#020105"


def test_format_name_string_types() -> None:
    name = der.name(
        [("2.5.4.3", der.tlv(0x1E, "日本".encode("utf-16-be")))],
        [("2.5.4.10", der.tlv(0x14, b"Zo\xeb"))],
        [("1.2.840.113549.1.9.1", der.tlv(0x16, b"a@example.test"))],
        [("0.9.2342.19200300.100.1.25", der.tlv(0x16, b"test"))],
    )
    assert _format(name) == "DC=test,emailAddress=a@example.test,O=Zoë,CN=日本"


def test_format_name_empty() -> None:
    assert _format(der.sequence()) == ""


def test_format_name_skips_empty_rdn() -> None:
    name = der.sequence(der.tlv(0x31, b""), der.set_of(der.sequence(der.oid("2.5.4.3"), der.utf8("a"))))
    assert _format(name) == "CN=a"
    assert _format(der.sequence(der.tlv(0x31, b""))) == ""


def test_format_name_printable_latin1() -> None:
    name = der.name([("2.5.4.3", der.utf8("localhost"))], [("2.5.4.10", der.tlv(0x13, b"Caf\xe9, Inc"))])
    assert _format(name) == "O=Café\\, Inc,CN=localhost"


@pytest.mark.parametrize(
    ("encoded_name", "reason"),
    [
        (der.sequence(der.sequence()), "expected a SET"),
        (der.sequence(der.set_of(der.sequence(der.oid("2.5.4.3"), der.tlv(0x1E, b"\x00")))), "BMPString"),
        (der.sequence(der.set_of(der.set_of())), "expected an AttributeTypeAndValue"),
        (der.sequence(der.set_of(der.sequence(der.oid("2.5.4.3")))), "truncated element"),
        (
            der.sequence(der.set_of(der.sequence(der.oid("2.5.4.3"), der.utf8("a"), der.utf8("b")))),
            "unexpected data after the last field of AttributeTypeAndValue",
        ),
    ],
)
def test_format_name_rejects(encoded_name: bytes, reason: str) -> None:
    with pytest.raises(DERError, match=reason):
        _format(encoded_name)


# Hand-built certificates.


def parse(cert: bytes) -> PeerCertificate:
    return PeerCertificate.from_der(cert)


def test_version_field_absent_means_v1() -> None:
    assert parse(der.certificate(version=None)).version == 1


def test_version_v2() -> None:
    assert parse(der.certificate(version=1)).version == 2


def test_version_unknown_rejected() -> None:
    with pytest.raises(DERError, match="unknown certificate version"):
        parse(der.certificate(version=3))


@pytest.mark.parametrize("version", [None, 0, 1])
def test_extensions_read_before_v3(version: Optional[int]) -> None:
    # OpenSSL 3.0 verifies such a certificate unless VERIFY_X509_STRICT is on.
    extension = der.extension("2.5.29.19", der.sequence(der.boolean(True)), critical=True)
    cert = parse(der.certificate(version=version, extensions=[extension]))
    assert cert.version == (version or 0) + 1
    assert [item.oid for item in cert.extensions] == ["2.5.29.19"]
    assert cert.is_ca is True


def test_data_after_extensions_rejected() -> None:
    extensions = der.tlv(0xA3, der.sequence(der.extension("2.5.29.19", der.sequence())) + der.sequence())
    with pytest.raises(
        DERError, match="unexpected data after the last field of the \\[3\\] extensions field"
    ):
        parse(der.certificate(extra_tbs_fields=extensions))


def test_duplicate_known_extension_decodes_neither() -> None:
    first = der.extension("2.5.29.19", der.sequence(der.boolean(True)))
    second = der.extension("2.5.29.19", der.sequence())
    san = der.extension("2.5.29.17", der.sequence(der.tlv(0x82, b"a.test")))
    cert = parse(der.certificate(extensions=[first, san, second]))
    assert [item.oid for item in cert.extensions] == ["2.5.29.19", "2.5.29.17", "2.5.29.19"]
    reason = "appears 2 times, but RFC 5280 4.2 allows one instance"
    assert [item.error for item in cert.extensions] == [reason, None, reason]
    assert cert.undecodable_extensions == (cert.extensions[0], cert.extensions[2])
    assert cert.is_ca is False
    assert cert.dns_names == ("a.test",)


def test_duplicate_unknown_extension_kept() -> None:
    # OpenSSL 3.0 verifies a certificate with an unknown extension twice.
    private = der.extension("1.3.6.1.4.1.99999.1", b"\x01\x02")
    cert = parse(der.certificate(extensions=[private, private]))
    assert [(item.oid, item.value, item.error) for item in cert.extensions] == [
        ("1.3.6.1.4.1.99999.1", b"\x01\x02", None)
    ] * 2
    assert cert.undecodable_extensions == ()


@pytest.mark.parametrize(
    ("serial", "expected_hex"),
    [(0, "00"), (4096, "10:00"), (-256, "-01:00"), (1 << 159, "80" + ":00" * 19)],
)
def test_serial_number(serial: int, expected_hex: str) -> None:
    cert = parse(der.certificate(serial=serial))
    assert cert.serial_number == serial
    assert cert.serial_number_hex == expected_hex


def test_trailing_bytes_after_certificate_rejected() -> None:
    with pytest.raises(DERError, match="trailing bytes after the certificate"):
        parse(der.certificate() + b"\x00")


def test_unknown_field_in_tbs_rejected() -> None:
    with pytest.raises(DERError, match="unexpected data after the last field of TBSCertificate"):
        parse(der.certificate(extra_tbs_fields=der.integer(1)))


def test_unique_identifiers_skipped() -> None:
    unique_ids = der.tlv(0x81, b"\x00\x01") + der.tlv(0x82, b"\x00\x02")
    cert = parse(der.certificate(extra_tbs_fields=unique_ids))
    assert cert.subject == "CN=synthetic.test"


def test_validity_mixed_time_types() -> None:
    before = datetime.datetime(1949, 12, 31, 23, 59, 59, tzinfo=UTC)
    after = datetime.datetime(2050, 1, 1, tzinfo=UTC)
    cert = parse(
        der.certificate(validity=der.sequence(der.generalized_time(before), der.generalized_time(after)))
    )
    assert cert.not_before == before
    assert cert.not_after == after


def test_validity_with_three_times_rejected() -> None:
    moment = der.utc_time(der.NOT_BEFORE)
    with pytest.raises(DERError, match="unexpected data after the last field of Validity"):
        parse(der.certificate(validity=der.sequence(moment, moment, moment)))


def test_unknown_signature_algorithm_is_dotted() -> None:
    assert parse(der.certificate(signature_oid="1.2.3.4.5")).signature_algorithm == "1.2.3.4.5"


def test_critical_flag() -> None:
    cert = parse(
        der.certificate(
            extensions=[
                der.extension("2.5.29.19", der.sequence(), critical=None),
                der.extension("2.5.29.15", der.bit_string(b"\x80", 7), critical=True),
                der.extension("1.2.3.4", der.tlv(0x05, b""), critical=False),
                der.sequence(
                    der.oid("1.2.3.5"), der.tlv(0x01, b"\x01"), der.octet_string(der.tlv(0x05, b""))
                ),
            ]
        )
    )
    assert [(item.oid, item.critical) for item in cert.extensions] == [
        ("2.5.29.19", False),
        ("2.5.29.15", True),
        ("1.2.3.4", False),
        ("1.2.3.5", True),
    ]
    assert [item.name for item in cert.extensions] == ["basicConstraints", "keyUsage", "1.2.3.4", "1.2.3.5"]
    assert cert.extensions[2].value == b"\x05\x00"


@pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not on PATH")
def test_critical_flag_non_der_true_matches_openssl() -> None:
    flag_01 = der.sequence(der.oid("2.5.29.19"), der.tlv(0x01, b"\x01"), der.octet_string(der.sequence()))
    cert = der.certificate(extensions=[flag_01])
    assert OPENSSL is not None
    text = subprocess.run(
        [OPENSSL, "x509", "-inform", "DER", "-noout", "-text"],
        input=cert,
        capture_output=True,
        timeout=OPENSSL_TIMEOUT_SECONDS,
        check=True,
    ).stdout.decode()
    assert "X509v3 Basic Constraints: critical" in text
    assert parse(cert).extensions[0].critical is True


def test_extension_value_with_two_elements_recorded() -> None:
    value = der.sequence(der.boolean(True)) + der.sequence()
    cert = parse(der.certificate(extensions=[der.extension("2.5.29.19", value)]))
    (extension,) = cert.undecodable_extensions
    assert extension.value == value
    assert extension.error is not None
    assert "unexpected data after the last field of the basicConstraints extension" in extension.error
    assert cert.is_ca is False


@pytest.mark.parametrize("critical", [None, False, True])
@pytest.mark.parametrize(
    "value",
    [b"\x01\x02\x03\x04\x05", b"", b"hello", der.sequence() + b"\x00", b"\x30\x80\x00\x00", b"\x04\x81\x01x"],
)
def test_unknown_extension_kept_raw(critical: Optional[bool], value: bytes) -> None:
    san = der.extension("2.5.29.17", der.sequence(der.tlv(0x82, b"a.test")))
    private = der.extension("1.3.6.1.4.1.99999.1", value, critical=critical)
    cert = parse(der.certificate(extensions=[private, san]))
    assert cert.extensions[0] == CertificateExtension("1.3.6.1.4.1.99999.1", bool(critical), value)
    assert cert.extensions[0].name == "1.3.6.1.4.1.99999.1"
    assert cert.undecodable_extensions == ()
    assert cert.dns_names == ("a.test",)


# A value that each decoded extension rejects, and the reason recorded for it.
UNDECODABLE_VALUES = [
    (
        "2.5.29.17",
        der.sequence(der.tlv(0x82, b"a.test"), der.tlv(0x87, b"\x01\x02\x03\x04\x05")),
        "is 5 bytes",
    ),
    ("2.5.29.17", der.sequence(der.tlv(0x89, b"x")), "unknown GeneralName tag 0x89"),
    ("2.5.29.17", der.octet_string(b"a.test"), "subjectAltName at offset"),
    ("2.5.29.19", der.sequence(der.boolean(True), der.integer(-1)), "negative pathLenConstraint"),
    (
        "2.5.29.19",
        b"\x01\x02\x03\x04\x05",
        "unexpected data after the last field of the basicConstraints extension",
    ),
    ("2.5.29.15", der.tlv(0x03, b"\x08\x80"), "claims 8 unused bits"),
    ("2.5.29.37", der.sequence(der.tlv(0x06, b"")), "OBJECT IDENTIFIER at offset"),
    ("2.5.29.14", der.sequence(), "subjectKeyIdentifier at offset"),
    (
        "2.5.29.35",
        der.sequence(der.tlv(0x83, b"x")),
        "unexpected data after the last field of authorityKeyIdentifier",
    ),
    (
        "1.3.6.1.5.5.7.1.1",
        b"\x01\x02\x03\x04\x05",
        "unexpected data after the last field of the authorityInfoAccess",
    ),
    ("1.3.6.1.5.5.7.1.1", der.sequence(der.integer(1)), "expected an AccessDescription"),
]


@pytest.mark.parametrize(("oid", "value", "reason"), UNDECODABLE_VALUES)
def test_undecodable_known_extension_recorded(oid: str, value: bytes, reason: str) -> None:
    basic_constraints = der.extension("2.5.29.19", der.sequence(der.boolean(True)), critical=True)
    extensions = [der.extension(oid, value)]
    if oid != "2.5.29.19":
        extensions.append(basic_constraints)
    cert = parse(der.certificate(extensions=extensions))
    (extension,) = cert.undecodable_extensions
    assert extension.oid == oid
    assert extension.value == value
    assert extension.error is not None
    assert reason in extension.error
    # Facts from the other extensions and from the TBSCertificate are still read.
    assert cert.subject == "CN=synthetic.test"
    assert cert.is_ca is (oid != "2.5.29.19")


DECODED_EXTENSION_OIDS = [
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.15",
    "2.5.29.37",
    "2.5.29.14",
    "2.5.29.35",
    "1.3.6.1.5.5.7.1.1",
]


def test_undecodable_extension_facts_are_defaults() -> None:
    # A lone 0x05 is a truncated element, so no decoder can read it.
    cert = parse(der.certificate(extensions=[der.extension(oid, b"\x05") for oid in DECODED_EXTENSION_OIDS]))
    assert [item.oid for item in cert.undecodable_extensions] == DECODED_EXTENSION_OIDS
    for item in cert.undecodable_extensions:
        assert item.error is not None
        assert item.error.startswith("truncated element at offset ")
    assert cert.dns_names == cert.ip_addresses == cert.uris == cert.emails == ()
    assert cert.is_ca is False
    assert cert.path_length is None
    assert cert.key_usage is None
    assert cert.extended_key_usage is None
    assert cert.subject_key_identifier is None
    assert cert.authority_key_identifier is None
    assert cert.ocsp_urls == cert.ca_issuers_urls == ()


def test_key_usage_unused_bits_set_are_ignored() -> None:
    # OpenSSL 3.0 verifies this keyUsage and clears the unused bit, as tlskit does.
    extension = der.extension("2.5.29.15", der.tlv(0x03, b"\x07\x81"))
    cert = parse(der.certificate(extensions=[extension]))
    assert cert.key_usage == ("digitalSignature",)
    assert cert.undecodable_extensions == ()


def test_subject_alt_name_kinds() -> None:
    other_name = der.tlv(0xA0, der.oid("1.3.6.1.4.1.311.20.2.3") + der.tlv(0xA0, der.utf8("upn")))
    directory_name = der.tlv(0xA4, der.DEFAULT_NAME)
    names = der.sequence(
        der.tlv(0x82, b"a.example.test"),
        other_name,
        der.tlv(0x87, bytes([192, 0, 2, 1])),
        der.tlv(0x87, bytes.fromhex("20010db8000000000000000000000001")),
        der.tlv(0x87, bytes([10, 0, 0, 0, 255, 0, 0, 0])),
        der.tlv(0x86, b"https://a.example.test/"),
        directory_name,
        der.tlv(0x81, b"a@example.test"),
        der.tlv(0x88, der.oid("1.2.3")[2:]),
        der.tlv(0x82, b"*.b.example.test"),
    )
    cert = parse(der.certificate(extensions=[der.extension("2.5.29.17", names)]))
    assert cert.dns_names == ("a.example.test", "*.b.example.test")
    assert cert.ip_addresses == ("192.0.2.1", "2001:db8::1", "10.0.0.0/8")
    assert cert.uris == ("https://a.example.test/",)
    assert cert.emails == ("a@example.test",)


def test_subject_alt_name_high_bytes_as_latin1() -> None:
    # OpenSSL 3.0 verifies a certificate whose other dNSName matches.
    names = der.sequence(
        der.tlv(0x82, b"localhost"), der.tlv(0x82, b"caf\xe9.test"), der.tlv(0x86, b"http://\xe9/")
    )
    cert = parse(der.certificate(extensions=[der.extension("2.5.29.17", names)]))
    assert cert.dns_names == ("localhost", "café.test")
    assert cert.uris == ("http://é/",)
    assert cert.undecodable_extensions == ()


@pytest.mark.parametrize(
    ("general_name", "reason"),
    [
        (der.tlv(0x87, b"\x01\x02\x03\x04\x05"), "is 5 bytes, not 4, 8, 16 or 32"),
        (der.tlv(0x87, bytes([10, 0, 0, 0, 255, 0, 255, 0])), "not contiguous"),
        (der.tlv(0x89, b"x"), "unknown GeneralName tag 0x89"),
        (der.tlv(0xA2, b""), "unknown GeneralName tag 0xa2"),
    ],
)
def test_subject_alt_name_undecodable(general_name: bytes, reason: str) -> None:
    extension = der.extension("2.5.29.17", der.sequence(der.tlv(0x82, b"a.test"), general_name))
    cert = parse(der.certificate(extensions=[extension]))
    (undecodable,) = cert.undecodable_extensions
    assert undecodable.error is not None
    assert reason in undecodable.error
    assert cert.dns_names == ()


@pytest.mark.parametrize(
    ("value", "is_ca", "path_length"),
    [
        (der.sequence(), False, None),
        (der.sequence(der.boolean(True)), True, None),
        (der.sequence(der.boolean(True), der.integer(0)), True, 0),
        (der.sequence(der.boolean(True), der.integer(1 << 70)), True, 1 << 70),
        (der.sequence(der.integer(3)), False, 3),
    ],
)
def test_basic_constraints(value: bytes, is_ca: bool, path_length: Optional[int]) -> None:
    cert = parse(der.certificate(extensions=[der.extension("2.5.29.19", value, critical=True)]))
    assert cert.is_ca is is_ca
    assert cert.path_length == path_length


def test_basic_constraints_negative_path_length_undecodable() -> None:
    value = der.sequence(der.boolean(True), der.integer(-1))
    cert = parse(der.certificate(extensions=[der.extension("2.5.29.19", value)]))
    error = cert.undecodable_extensions[0].error
    assert error is not None
    assert error.endswith("has a negative pathLenConstraint")
    assert cert.is_ca is False
    assert cert.path_length is None


def test_no_extensions() -> None:
    cert = parse(der.certificate(extensions=None))
    assert cert.extensions == ()
    assert cert.is_ca is False
    assert cert.path_length is None
    assert cert.key_usage is None
    assert cert.extended_key_usage is None
    assert cert.subject_key_identifier is None
    assert cert.authority_key_identifier is None
    assert cert.dns_names == ()
    assert cert.ocsp_urls == ()


def test_key_usage_second_byte() -> None:
    extension = der.extension("2.5.29.15", der.bit_string(b"\x82\x80", 7))
    assert parse(der.certificate(extensions=[extension])).key_usage == (
        "digitalSignature",
        "cRLSign",
        "decipherOnly",
    )


def test_key_usage_empty() -> None:
    extension = der.extension("2.5.29.15", der.bit_string(b""))
    assert parse(der.certificate(extensions=[extension])).key_usage == ()


def test_extended_key_usage_unknown_purpose() -> None:
    value = der.sequence(der.oid("1.3.6.1.5.5.7.3.1"), der.oid("1.2.3.4.5"))
    cert = parse(der.certificate(extensions=[der.extension("2.5.29.37", value)]))
    assert cert.extended_key_usage == ("serverAuth", "1.2.3.4.5")


def test_key_identifiers() -> None:
    authority = der.sequence(der.tlv(0x80, b"\x01\x02"), der.tlv(0xA1, b""), der.tlv(0x82, b"\x05"))
    cert = parse(
        der.certificate(
            extensions=[
                der.extension("2.5.29.14", der.octet_string(b"\xaa\xbb")),
                der.extension("2.5.29.35", authority),
            ]
        )
    )
    assert cert.subject_key_identifier == b"\xaa\xbb"
    assert cert.authority_key_identifier == b"\x01\x02"


def test_authority_key_identifier_without_key_id() -> None:
    authority = der.sequence(der.tlv(0xA1, der.tlv(0x82, b"ca.test")), der.tlv(0x82, b"\x05"))
    cert = parse(der.certificate(extensions=[der.extension("2.5.29.35", authority)]))
    assert cert.authority_key_identifier is None


def test_authority_info_access() -> None:
    value = der.sequence(
        der.sequence(der.oid("1.3.6.1.5.5.7.48.1"), der.tlv(0x86, b"http://ocsp.test/")),
        der.sequence(der.oid("1.3.6.1.5.5.7.48.2"), der.tlv(0x86, b"http://ca.test/ca.der")),
        der.sequence(der.oid("1.3.6.1.5.5.7.48.2"), der.tlv(0xA4, der.DEFAULT_NAME)),
        der.sequence(der.oid("1.3.6.1.5.5.7.48.5"), der.tlv(0x86, b"http://repository.test/")),
        der.sequence(der.oid("1.3.6.1.5.5.7.48.1"), der.tlv(0x86, b"http://ocsp2.test/")),
    )
    cert = parse(der.certificate(extensions=[der.extension("1.3.6.1.5.5.7.1.1", value)]))
    assert cert.ocsp_urls == ("http://ocsp.test/", "http://ocsp2.test/")
    assert cert.ca_issuers_urls == ("http://ca.test/ca.der",)


@pytest.mark.parametrize(
    ("spki", "algorithm", "key_size", "curve"),
    [
        (der.rsa_spki((1 << 2047) + 1), "RSA", 2048, None),
        (der.ed25519_spki(), "Ed25519", 256, None),
        (der.sequence(der.sequence(der.oid("1.3.101.110")), der.bit_string(bytes(32))), "X25519", 256, None),
        (der.sequence(der.sequence(der.oid("1.3.101.113")), der.bit_string(bytes(57))), "Ed448", 456, None),
        (
            der.sequence(
                der.sequence(der.oid("1.2.840.10045.2.1"), der.oid("1.3.132.0.10")),
                der.bit_string(b"\x04" + bytes(64)),
            ),
            "EC",
            256,
            "secp256k1",
        ),
        (
            der.sequence(
                der.sequence(der.oid("1.2.840.10045.2.1"), der.oid("1.2.3.4")),
                der.bit_string(b"\x04" + bytes(64)),
            ),
            "EC",
            None,
            "1.2.3.4",
        ),
        (
            der.sequence(
                der.sequence(der.oid("1.2.840.10045.2.1"), der.sequence(der.integer(1))),
                der.bit_string(b"\x04" + bytes(64)),
            ),
            "EC",
            None,
            None,
        ),
        (
            der.sequence(
                der.sequence(
                    der.oid("1.2.840.10040.4.1"),
                    der.sequence(der.integer((1 << 2047) + 1), der.integer(3), der.integer(2)),
                ),
                der.bit_string(der.integer(5)),
            ),
            "DSA",
            2048,
            None,
        ),
        (
            der.sequence(der.sequence(der.oid("1.2.840.10040.4.1")), der.bit_string(der.integer(5))),
            "DSA",
            None,
            None,
        ),
        (der.sequence(der.sequence(der.oid("1.2.3.4.5")), der.bit_string(b"key")), "1.2.3.4.5", None, None),
    ],
)
def test_public_key_kinds(spki: bytes, algorithm: str, key_size: Optional[int], curve: Optional[str]) -> None:
    cert = parse(der.certificate(spki=spki))
    assert cert.public_key_algorithm == algorithm
    assert cert.key_size == key_size
    assert cert.curve == curve
    assert cert.spki == spki


@pytest.mark.parametrize(
    ("spki", "reason"),
    [
        (der.ed25519_spki(bytes(31)), "Ed25519 public key at offset .* is not 32 bytes"),
        (
            der.sequence(der.sequence(der.oid("1.3.101.112"), der.tlv(0x05, b"")), der.bit_string(bytes(32))),
            "Ed25519",
        ),
        (der.rsa_spki(-5), "not positive"),
        (
            der.sequence(der.sequence(der.oid("1.2.840.113549.1.1.1")), der.bit_string(b"\x30\x00")),
            "truncated",
        ),
        (
            der.sequence(
                der.sequence(der.oid("1.2.840.113549.1.1.1")), der.bit_string(der.sequence() + b"\x00")
            ),
            "trailing bytes after the RSA public key",
        ),
        (
            der.sequence(der.sequence(der.oid("1.2.840.10045.2.1")), der.bit_string(b"\x04")),
            "no curve parameters",
        ),
    ],
)
def test_public_key_rejects(spki: bytes, reason: str) -> None:
    with pytest.raises(DERError, match=reason):
        parse(der.certificate(spki=spki))


def test_read_spki_matches_reader() -> None:
    spki = der.rsa_spki((1 << 3071) + 1)
    cert = der.certificate(spki=spki)
    assert read_spki(cert) == spki
    assert read_spki(der.certificate(version=None, spki=spki)) == spki


def test_read_spki_skips_unreadable_fields() -> None:
    # The extension list and a name value are broken, but the pin still reads.
    spki = der.rsa_spki((1 << 2047) + 1)
    broken_subject = der.name([("2.5.4.3", der.tlv(0x1E, b"\x00"))])
    cert = der.certificate(spki=spki, subject=broken_subject, extra_tbs_fields=der.tlv(0xA3, b"\x05\x00"))
    with pytest.raises(DERError):
        parse(cert)
    assert read_spki(cert) == spki


@pytest.mark.parametrize(
    ("spki", "reason"),
    [
        (der.sequence(der.sequence(der.oid("1.3.101.112"))), "truncated element"),
        (der.sequence(der.sequence(der.integer(1)), der.bit_string(b"k")), "expected tag 0x06"),
        (
            der.sequence(der.sequence(der.oid("1.3.101.112")), der.bit_string(b"k"), der.sequence()),
            "SubjectPublicKeyInfo",
        ),
        (
            der.sequence(der.sequence(der.oid("1.3.101.112")), der.tlv(0x03, b"\x01\x01")),
            "non-zero unused bits",
        ),
        (
            der.sequence(
                der.sequence(der.oid("1.3.101.112"), der.sequence(), der.sequence()), der.bit_string(b"k")
            ),
            "AlgorithmIdentifier",
        ),
    ],
)
def test_read_spki_rejects_malformed_spki(spki: bytes, reason: str) -> None:
    with pytest.raises(DERError, match=reason):
        read_spki(der.certificate(spki=spki))


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ({"issuer": der.set_of()}, "expected tag 0x30"),
        ({"validity": der.integer(1)}, "expected tag 0x30"),
        ({"serial": -1, "version": 7}, None),
    ],
)
def test_read_spki_checks_tbs_framing(field: Dict[str, Any], reason: Optional[str]) -> None:
    cert = der.certificate(**field)
    if reason is None:
        assert read_spki(cert) == der.ed25519_spki()
        return
    with pytest.raises(DERError, match=reason):
        read_spki(cert)


def test_parse_error_is_public() -> None:
    with pytest.raises(CertificateParseError) as caught:
        PeerCertificate.from_der(b"\x30\x03\x02\x01")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, DERError)
    assert caught.value.offset == 0


# Fuzzing: random and mutated input gives a result or CertificateParseError, nothing else.


def _seed_certificates() -> List[bytes]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1", "::1", "10.0.0.0/8", "user@example.test")
    rsa_ca = trustme.CA(key_type=trustme.KeyType.RSA)
    rsa_leaf = rsa_ca.issue_cert("rsa.example.test")
    pems = [ca.cert_pem.bytes(), leaf.cert_chain_pems[0].bytes(), rsa_leaf.cert_chain_pems[0].bytes()]
    everything = der.certificate(
        issuer=der.name(
            [("2.5.4.6", der.printable("US"))],
            [("2.5.4.3", der.tlv(0x1E, "日本".encode("utf-16-be"))), ("2.5.4.11", der.tlv(0x14, b"Zo\xeb"))],
            [("1.2.3.4", der.utf8("x"))],
        ),
        validity=der.sequence(der.utc_time(der.NOT_BEFORE), der.generalized_time(der.NOT_AFTER)),
        spki=der.rsa_spki((1 << 2047) + 1),
        extensions=[
            der.extension("2.5.29.19", der.sequence(der.boolean(True), der.integer(2)), critical=True),
            der.extension("2.5.29.15", der.bit_string(b"\x86", 1), critical=True),
            der.extension("2.5.29.37", der.sequence(der.oid("1.3.6.1.5.5.7.3.1"))),
            der.extension("2.5.29.14", der.octet_string(b"\x01" * 20)),
            der.extension("2.5.29.35", der.sequence(der.tlv(0x80, b"\x02" * 20))),
            der.extension(
                "2.5.29.17",
                der.sequence(der.tlv(0x82, b"a.test"), der.tlv(0x87, bytes(16)), der.tlv(0x86, b"urn:x")),
            ),
            der.extension(
                "1.3.6.1.5.5.7.1.1",
                der.sequence(der.sequence(der.oid("1.3.6.1.5.5.7.48.1"), der.tlv(0x86, b"http://o.test/"))),
            ),
        ],
    )
    lenient = der.certificate(
        subject=der.name(
            [], [("2.5.4.10", der.tlv(0x13, b"Caf\xe9"))], [("2.5.4.3", der.tlv(0x0C, b"\xff"))]
        ),
        extensions=[
            der.extension("1.3.6.1.4.1.99999.1", b"\x01\x02\x03\x04\x05"),
            der.extension("2.5.29.17", der.sequence(der.tlv(0x87, b"\x01\x02\x03\x04\x05"))),
            der.extension("2.5.29.15", der.tlv(0x03, b"\x07\x81")),
            der.extension("1.3.6.1.4.1.99999.1", b"", critical=True),
        ],
    )
    return [der_bytes for pem in pems for der_bytes in pem_to_der_list(pem)] + [everything, lenient]


SEEDS = _seed_certificates()


def _length_offsets(data: bytes, start: int, end: int, found: List[int]) -> List[int]:
    """Collect the offset of every length byte in a DER tree, descending into constructed elements."""
    offset = start
    while offset < end:
        item = read_tlv(data, offset, end)
        found.append(offset + 1)
        if item.tag & 0x20:
            _length_offsets(data, item.start, item.end, found)
        offset = item.end
    return found


SEED_LENGTH_OFFSETS = [_length_offsets(seed, 0, len(seed), []) for seed in SEEDS]


@st.composite
def mutated_certificates(draw: st.DrawFn) -> bytes:
    """Draw a seed certificate with one to four flips, cuts, length changes, insertions or deletions."""
    index = draw(st.integers(0, len(SEEDS) - 1))
    data = bytearray(SEEDS[index])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "length", "insert", "delete"]))
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[position] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[position:]
        elif kind == "length":
            length_offset = draw(st.sampled_from(SEED_LENGTH_OFFSETS[index]))
            if length_offset < len(data):
                data[length_offset] = (data[length_offset] + draw(st.integers(-3, 3))) % 256
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[position : position + draw(st.integers(1, 4))]
    return bytes(data)


@FUZZ_SETTINGS
@given(
    st.sampled_from(DECODED_EXTENSION_OIDS + ["1.3.6.1.4.1.99999.1"]), st.booleans(), st.binary(max_size=64)
)
def test_fuzz_extension_values_never_fail_certificate(oid: str, critical: bool, value: bytes) -> None:
    """Any extnValue leaves the certificate readable: decoded, or recorded with a reason."""
    cert = parse(der.certificate(extensions=[der.extension(oid, value, critical=critical)]))
    (extension,) = cert.extensions
    assert extension.value == value
    assert extension.critical is critical
    if oid not in DECODED_EXTENSION_OIDS:
        assert extension.error is None


def parse_or_reject(data: bytes) -> Optional[PeerCertificate]:
    """Parse ``data``; return None for CertificateParseError and let any other exception fail the test."""
    try:
        return PeerCertificate.from_der(data)
    except CertificateParseError:
        return None


def test_seeds_parse() -> None:
    for seed in SEEDS:
        assert parse_or_reject(seed) is not None


@FUZZ_SETTINGS
@given(st.binary(max_size=512))
def test_fuzz_random_bytes(data: bytes) -> None:
    parse_or_reject(data)


@FUZZ_SETTINGS
@given(st.binary(max_size=512))
def test_fuzz_random_sequence(data: bytes) -> None:
    parse_or_reject(der.sequence(der.sequence(data)))


@FUZZ_SETTINGS
@given(mutated_certificates())
def test_fuzz_mutated_certificates(data: bytes) -> None:
    cert = parse_or_reject(data)
    if cert is not None:
        assert cert.spki_pin.startswith("sha256/")
        assert cert.der == data


@FUZZ_SETTINGS
@given(st.binary(max_size=256), st.integers(0, 300), st.integers(0, 300))
def test_fuzz_elements_stay_in_bounds(data: bytes, start: int, end: int) -> None:
    """Every element the reader returns lies inside the bounds it was given and the input."""
    pending = [(min(start, len(data)), min(end, len(data)))]
    for _ in range(1000):
        if not pending:
            break
        low, high = pending.pop()
        reader = Reader(data, low, high)
        try:
            children = reader.read_all()
        except DERError:
            continue
        for child in children:
            assert low <= child.start <= child.end <= high
            if child.tag & 0x20:
                pending.append((child.start, child.end))


@FUZZ_SETTINGS
@given(st.text(max_size=300))
def test_fuzz_pem_text(text: str) -> None:
    try:
        pem_to_der_list("-----BEGIN CERTIFICATE-----\n" + text + "\n-----END CERTIFICATE-----\n")
    except CertificateParseError:
        pass


@FUZZ_SETTINGS
@given(st.integers(0, 10_000), st.characters())
def test_fuzz_mutated_pem(position: int, replacement: str) -> None:
    pem = ssl.DER_cert_to_PEM_cert(SEEDS[1])
    position %= len(pem)
    mutated = pem[:position] + replacement + pem[position + 1 :]
    try:
        for item in pem_to_der_list(mutated):
            parse_or_reject(item)
    except CertificateParseError:
        pass
