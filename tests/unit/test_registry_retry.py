"""The retry policy and the registry error wording."""

from __future__ import annotations

import pytest

from caisson import errors
from caisson.registry_proxy.distribution import error_messages, status_error
from caisson.registry_proxy.retry import RetryPolicy, parse_retry_after, retryable_status


def test_backoff_doubles_and_is_capped() -> None:
    p = RetryPolicy(attempts=5, base_delay=0.5, max_delay=3)
    assert [p.delay(n) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    p = RetryPolicy(base_delay=0.5, max_delay=8)
    assert p.delay(1, retry_after=2) == 2
    assert p.delay(1, retry_after=100) == 8
    assert p.delay(3, retry_after=0.1) == 2


def test_attempts() -> None:
    p = RetryPolicy(attempts=3)
    assert p.should_retry(1) and p.should_retry(2)
    assert not p.should_retry(3)


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (429, True),
        (404, False),
        (401, False),
        (400, False),
        (200, False),
    ],
)
def test_retryable_status(status: int, retry: bool) -> None:
    assert retryable_status(status) is retry


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("-1") is None


def test_oci_error_body() -> None:
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}'
    assert error_messages(body) == ("manifest unknown", "manifest unknown")
    assert error_messages(b'{"details":"incorrect username or password"}') == (
        "",
        "incorrect username or password",
    )
    assert error_messages(b"<html>") == ("", "")


NAME = "127.0.0.1:5000/x"


def test_status_errors_in_dockers_words() -> None:
    unknown = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    e = status_error(404, "Not Found", unknown, "127.0.0.1:5000", NAME, NAME + ":nope", "manifest")
    assert isinstance(e, errors.NotFound)
    assert str(e) == "manifest for 127.0.0.1:5000/x:nope not found: manifest unknown"

    name_unknown = (
        b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}'
    )
    e = status_error(404, "", name_unknown, "h", NAME, NAME + ":v", "manifest")
    assert isinstance(e, errors.NotFound)
    assert str(e) == f"repository {NAME} not found: repository name not known to registry"

    denied = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
    e = status_error(401, "", denied, "h", NAME, NAME + ":v", "manifest")
    assert isinstance(e, errors.Unauthenticated)
    assert str(e) == f"unauthorized: authentication required for {NAME}"

    assert isinstance(status_error(403, "", b"", "h", NAME, "s", "blob"), errors.PermissionDenied)
    assert isinstance(status_error(429, "", b"", "h", NAME, "s", "blob"), errors.ResourceExhausted)
    e = status_error(503, "Service Unavailable", b"", "h:1", NAME, "s", "blob")
    assert isinstance(e, errors.Unavailable)
    assert str(e) == "registry h:1 answered 503 Service Unavailable"
