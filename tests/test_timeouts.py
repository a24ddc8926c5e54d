"""Timeout values and the Deadline that turns them into per-operation limits."""

from __future__ import annotations

import time

import pytest

from tlskit import PolicyError, Timeout, TimeoutExceededError
from tlskit._timeouts import MAX_TIMEOUT_SECONDS, Deadline, HeadDeadline, head_deadline, make_timeout


def test_number_bounds_total() -> None:
    assert make_timeout(5) == Timeout(total=5.0)
    assert make_timeout(None) == Timeout()
    timeout = Timeout(connect=1, read=2, total=3)
    assert make_timeout(timeout) is timeout


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "5", True, 1e10, 1e300, 10**400])
def test_invalid_timeout_raises(value: object) -> None:
    with pytest.raises(PolicyError) as caught:
        make_timeout(value)  # type: ignore[arg-type]
    assert caught.value.field == "timeout"
    assert repr(value) in str(caught.value)


def test_invalid_timeout_field_raises() -> None:
    with pytest.raises(PolicyError, match="read=0"):
        Timeout(read=0)
    with pytest.raises(PolicyError, match="read=10000000000.0"):
        Timeout(read=1e10)


def test_longest_timeout_accepted() -> None:
    assert Timeout(read=MAX_TIMEOUT_SECONDS).read == MAX_TIMEOUT_SECONDS


def test_limit_uses_own_timeout_when_total_is_far() -> None:
    deadline = Deadline(Timeout(connect=1, read=2, total=100))
    assert deadline.limit("connect", "h", 1) == (1.0, "connect")
    assert deadline.limit("handshake", "h", 1) == (1.0, "handshake")
    assert deadline.limit("read", "h", 1) == (2.0, "read")


def test_limit_reports_total_when_it_binds() -> None:
    deadline = Deadline(Timeout(read=50, total=1))
    seconds, phase = deadline.limit("read", "h", 1)
    assert phase == "total"
    assert seconds is not None and 0 < seconds <= 1


def test_limit_without_total() -> None:
    deadline = Deadline(Timeout(read=2))
    assert deadline.remaining() is None
    assert deadline.limit("read", "h", 1) == (2.0, "read")
    assert deadline.limit("connect", "h", 1) == (None, "connect")


def test_expired_total_raises() -> None:
    deadline = Deadline(Timeout(total=0.001))
    time.sleep(0.002)
    with pytest.raises(TimeoutExceededError) as caught:
        deadline.limit("read", "example.test", 8443)
    assert caught.value.phase == "total"
    assert caught.value.timeout == 0.001
    assert caught.value.host == "example.test"
    assert "example.test:8443 exceeded its total timeout" in str(caught.value)


def test_expired_message_names_phase() -> None:
    error = Deadline(Timeout(connect=3)).expired("connect", "::1", 443)
    assert isinstance(error, TimeoutError)
    assert error.phase == "connect"
    assert error.timeout == 3.0
    assert str(error) == "connect to [::1]:443 timed out after 3 s. Raise the timeout or check the server."


def test_head_deadline_needs_read_timeout() -> None:
    deadline = Deadline(Timeout(total=5))
    assert head_deadline(deadline) is deadline


def test_head_deadline_shrinks_read_limit() -> None:
    head = head_deadline(Deadline(Timeout(read=10)))
    assert isinstance(head, HeadDeadline)
    head.head_expires = time.monotonic() + 2
    seconds, phase = head.limit("read", "example.test", 443)
    assert seconds is not None
    assert 0 < seconds <= 2
    assert phase == "head"
    assert head.limit("connect", "example.test", 443) == (None, "connect")


def test_head_deadline_expired_reports_read() -> None:
    head = head_deadline(Deadline(Timeout(read=10)))
    assert isinstance(head, HeadDeadline)
    head.head_expires = time.monotonic() - 1
    with pytest.raises(TimeoutExceededError) as caught:
        head.limit("read", "example.test", 443)
    assert caught.value.phase == "read"
    assert caught.value.timeout == 10
    assert str(caught.value).startswith(
        "read of the response head from example.test:443 timed out: the server sent it for over 10 s"
    )
