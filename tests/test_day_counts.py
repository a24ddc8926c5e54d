"""Every message counts the days to or since a certificate's expiry the same way, with "1 day" singular."""

from __future__ import annotations

import datetime
import logging
import re
from typing import Callable

import pytest
import trustme

import tlskit
from conftest import make_server_context
from servers import HTTPResponder, TLSServer
from tlskit import CertificateExpiredError
from tlskit._certs import describe_expiry, format_days, pem_to_der_list
from tlskit._cli import EXIT_OK, main
from tlskit._expiry import warn_if_expiring

StartServer = Callable[..., TLSServer]
UTC = datetime.timezone.utc
NOT_AFTER = datetime.datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
DAY_COUNT = re.compile(r"(?:\d+ days?|less than a day) (?:ago|left)")


@pytest.mark.parametrize(
    ("days", "text"),
    [(0, "less than a day"), (1, "1 day"), (2, "2 days"), (365, "365 days")],
)
def test_format_days(days: int, text: str) -> None:
    assert format_days(days) == text


@pytest.mark.parametrize(
    ("hours_left", "text"),
    [
        (36, "1 day left"),
        (24, "1 day left"),
        (23, "less than a day left"),
        (0, "less than a day left"),
        (-1, "expired less than a day ago"),
        (-24, "expired 1 day ago"),
        (-36, "expired 1 day ago"),
        (-48, "expired 2 days ago"),
    ],
)
def test_describe_expiry(hours_left: int, text: str) -> None:
    now = NOT_AFTER - datetime.timedelta(hours=hours_left)
    assert describe_expiry(NOT_AFTER, now) == text


def leaf_expiring_in(ca: trustme.CA, hours: float) -> trustme.LeafCert:
    now = datetime.datetime.now(UTC)
    return ca.issue_cert(
        "localhost",
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=30),
        not_after=now + datetime.timedelta(hours=hours),
    )


@pytest.mark.parametrize(("hours", "age"), [(-24.5, "1 day ago"), (-12, "less than a day ago")])
def test_expired_message_one_count(
    start_server: StartServer, ca: trustme.CA, ca_file: str, hours: float, age: str
) -> None:
    server = start_server(
        HTTPResponder({"/": (200, [], b"ok")}), make_server_context(leaf_expiring_in(ca, hours))
    )
    with pytest.raises(CertificateExpiredError) as caught:
        tlskit.get(server.url("/"), policy=tlskit.TLSPolicy(cafile=ca_file))
    counts = DAY_COUNT.findall(str(caught.value))
    # The summary and the chain listing each give the leaf's age.
    assert len(counts) == 2
    assert counts == [age, age]


def test_inspect_one_day_left(
    start_server: StartServer, ca: trustme.CA, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = start_server(
        HTTPResponder({"/": (200, [], b"ok")}), make_server_context(leaf_expiring_in(ca, 36))
    )
    assert main(["inspect", server.url("/"), "--cacert", ca_file]) == EXIT_OK
    output = capsys.readouterr().out
    assert "(1 day left)" in output
    assert "1 days" not in output


def test_expiry_warning_singular(ca: trustme.CA, caplog: pytest.LogCaptureFixture) -> None:
    leaf = leaf_expiring_in(ca, 36)
    der = pem_to_der_list(leaf.cert_chain_pems[0].bytes())[0]
    with caplog.at_level(logging.WARNING, logger="tlskit"):
        assert warn_if_expiring(der, 14, "a test certificate")
    assert "expires in 1 day, on" in caplog.text
