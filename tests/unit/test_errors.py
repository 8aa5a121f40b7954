"""The error tree: every wire code of the contract maps to exactly one class.

A class may refine another without a code of its own (``StorageFailed`` is an ``Internal``
and goes on the wire as ``internal``); the map keeps the class the code names.
"""

from __future__ import annotations

import pytest

import teahouse.errors as errors
from teahouse.errors import ERRORS_BY_CODE, ChatError

# The "Codes:" list of the Errors section of protocol v1 (shared/protocol-v1.md).
CONTRACT_CODES = [
    "bad_frame",
    "frame_too_large",
    "unknown_type",
    "invalid_field",
    "unsupported_proto",
    "not_authed",
    "timeout",
    "bad_credentials",
    "throttled",
    "banned",
    "user_taken",
    "invalid_name",
    "weak_password",
    "registration_closed",
    "no_such_room",
    "no_such_user",
    "not_in_room",
    "forbidden",
    "rate_limited",
    "heartbeat_timeout",
    "slow_consumer",
    "too_many_connections",
    "kicked",
    "server_shutdown",
    "internal",
]

FATAL = {
    "frame_too_large",
    "unsupported_proto",
    "timeout",
    "heartbeat_timeout",
    "slow_consumer",
    "too_many_connections",
    "kicked",
    "server_shutdown",
    "banned",
}


def all_error_classes() -> list[type[ChatError]]:
    return [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, ChatError) and obj is not ChatError
    ]


def test_the_codes_are_exactly_the_contract_codes() -> None:
    assert sorted(ERRORS_BY_CODE) == sorted(CONTRACT_CODES)
    assert len(set(CONTRACT_CODES)) == len(CONTRACT_CODES)


@pytest.mark.parametrize("code", CONTRACT_CODES)
def test_each_code_maps_to_a_class_that_carries_it(code: str) -> None:
    cls = ERRORS_BY_CODE[code]
    assert issubclass(cls, ChatError)
    assert cls.code == code
    assert cls().code == code


@pytest.mark.parametrize("code", CONTRACT_CODES)
def test_each_code_belongs_to_exactly_one_class(code: str) -> None:
    owners = [cls for cls in all_error_classes() if cls.code == code]
    mapped = ERRORS_BY_CODE[code]
    assert mapped in owners
    # Any other class with this code is a refinement of the mapped one, never a rival.
    assert all(issubclass(cls, mapped) for cls in owners)


def test_every_error_class_is_in_the_map_or_refines_a_class_there() -> None:
    mapped = set(ERRORS_BY_CODE.values())
    assert len(mapped) == len(ERRORS_BY_CODE)
    for cls in all_error_classes():
        assert cls in mapped or issubclass(cls, ERRORS_BY_CODE[cls.code]), cls


def test_storage_failed_is_an_internal_error() -> None:
    assert issubclass(errors.StorageFailed, errors.Internal)
    assert errors.StorageFailed().code == "internal"
    assert ERRORS_BY_CODE["internal"] is errors.Internal


@pytest.mark.parametrize("code", CONTRACT_CODES)
def test_fatal_flags_match_the_contract(code: str) -> None:
    cls = ERRORS_BY_CODE[code]
    assert cls.default_fatal is (code in FATAL)
    assert cls().fatal is (code in FATAL)


def test_fatal_may_be_overridden_per_instance() -> None:
    err = errors.BadFrame(fatal=True)
    assert err.fatal
    assert not errors.BadFrame().fatal


def test_an_error_has_a_default_message_and_keeps_retry_after() -> None:
    err = errors.Throttled(retry_after=2.5)
    assert err.message == errors.Throttled.default_message
    assert err.retry_after == 2.5
    assert str(errors.Forbidden("no")) == "no"
