"""Numeric option values: every malformed one is a usage error that names the option."""

from __future__ import annotations

import argparse
from typing import List

import pytest

from tlskit._cli import EXIT_USAGE, main
from tlskit._cli_options import ConnectTo, connect_to_rule
from tlskit._cli_values import MAX_SECONDS, MAX_SIZE_BYTES, count, seconds, size

DIGITS_5000 = "1" * 5000
# Values that int() or float() accept but no user means: other scripts'
# digits, IEEE specials, exponents, underscores and padding.
NOT_SECONDS = ["nan", "NaN", "inf", "-inf", "0", "-1", "1e3", "1_000", " 30", "٣٠", "30s", "", DIGITS_5000]
NOT_COUNTS = ["-1", "1.5", "١٢", "1_0", "+3", " 3", "", "ten", DIGITS_5000]
NOT_SIZES = ["-1", "1.5M", "ten", "2T", "١٢", "1_000", " 12", "", "12KB", DIGITS_5000, "9223372036854775808"]


def usage_error(argv: List[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == EXIT_USAGE
    error = capsys.readouterr().err
    assert "Traceback" not in error
    return error


@pytest.mark.parametrize("option", ["--timeout", "--max-time", "-m"])
@pytest.mark.parametrize("value", NOT_SECONDS)
def test_get_seconds_rejected(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(["get", "https://localhost:1/", f"{option}={value}"], capsys)
    assert "argument -m/--max-time: invalid value" in error or "argument --timeout: invalid value" in error


@pytest.mark.parametrize("verb", ["doctor", "inspect"])
@pytest.mark.parametrize("value", ["nan", "0", "١", DIGITS_5000])
def test_other_verbs_seconds_rejected(verb: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error([verb, "https://localhost:1/", f"--timeout={value}"], capsys)
    assert "argument --timeout: invalid value" in error


@pytest.mark.parametrize("value", NOT_COUNTS)
def test_max_redirs_rejected(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(["get", "https://localhost:1/", f"--max-redirs={value}"], capsys)
    assert "argument --max-redirs: invalid value" in error


@pytest.mark.parametrize("value", NOT_COUNTS)
def test_doctor_days_rejected(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(["doctor", "--cafile", "bundle.pem", f"--days={value}"], capsys)
    assert "argument --days: invalid value" in error


@pytest.mark.parametrize("value", NOT_SIZES)
def test_max_filesize_rejected(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(["get", "https://localhost:1/", f"--max-filesize={value}"], capsys)
    assert "argument --max-filesize: invalid value" in error


@pytest.mark.parametrize(
    "value",
    [
        "host:443:127.0.0.1",
        "a:b:c:d",
        "h:99999:h:1",
        "h:0:h:1",
        "h:443:h:٤٤٣",
        "::127.0.0.1:٤٤٣",
        "h:443:h:+443",
        "h:443:h: 443",
        "localhost:1:127.0.0.1:" + DIGITS_5000,
    ],
)
def test_connect_to_rejected(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(["get", "https://localhost/", "--connect-to", value], capsys)
    assert "argument --connect-to: invalid value" in error


def test_long_value_cut_in_message(capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(["get", "https://localhost:1/", f"--max-filesize={DIGITS_5000}"], capsys)
    assert DIGITS_5000 not in error
    assert "(5000 characters)" in error


def test_non_ascii_digits_named(capsys: pytest.CaptureFixture[str]) -> None:
    error = usage_error(["get", "https://localhost:1/", "--max-filesize", "١٢"], capsys)
    assert error.splitlines()[-1] == (
        "tlskit get: error: argument --max-filesize: invalid value '١٢': expected bytes such as "
        "1048576, 500K, 20M or 2G"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("30", 30.0), ("0.5", 0.5), (".25", 0.25), ("1.", 1.0), (str(MAX_SECONDS), MAX_SECONDS)],
)
def test_seconds_accepted(text: str, value: float) -> None:
    assert seconds(text) == value


def test_seconds_range() -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        seconds(str(MAX_SECONDS + 1))
    assert (
        str(caught.value)
        == f"invalid value '1000001': expected more than 0 and at most {MAX_SECONDS} seconds"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("4999", 4999), ("5k", 5 * 1024), ("20M", 20 * 1024**2), ("2g", 2 * 1024**3)],
)
def test_size_accepted(text: str, value: int) -> None:
    assert size(text) == value


def test_size_maximum() -> None:
    assert size(str(MAX_SIZE_BYTES)) == MAX_SIZE_BYTES
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        size("8589934592G")
    assert (
        str(caught.value) == f"invalid value '8589934592G': larger than the maximum, {MAX_SIZE_BYTES} bytes"
    )


def test_count_bounds() -> None:
    read = count(1000)
    assert read("0") == 0
    assert read("1000") == 1000
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        read("1001")
    assert str(caught.value) == "invalid value '1001': expected a whole number from 0 to 1000"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("example.com:443:127.0.0.1:8443", ConnectTo("example.com", 443, "127.0.0.1", 8443)),
        ("::[::1]:65535", ConnectTo("", None, "::1", 65535)),
        ("Example.COM:1::", ConnectTo("example.com", 1, "", None)),
    ],
)
def test_connect_to_accepted(value: str, rule: ConnectTo) -> None:
    assert connect_to_rule(value) == rule
