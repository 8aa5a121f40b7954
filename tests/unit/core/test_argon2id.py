"""argon2 in one thread: the same strings as argon2-cffi, each side reading the other's, bad
hashes matching nothing, and no thread started for a hash whatever its lanes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import argon2
import pytest
from argon2.low_level import Type, hash_secret_raw
from hypothesis import given, settings
from hypothesis import strategies as st

from teahouse.core import argon2id
from teahouse.core.argon2id import hash_password, verify_password

CHEAP = {"time_cost": 1, "memory_kib": 64, "parallelism": 4}


def test_a_hash_reads_as_argon2_cffi_writes_it() -> None:
    encoded = hash_password("correct horse", **CHEAP)
    assert encoded.startswith("$argon2id$v=19$m=64,t=1,p=4$")
    params = argon2.extract_parameters(encoded)
    assert (params.salt_len, params.hash_len) == (16, 32)
    cffi = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=4)
    assert cffi.verify(encoded, "correct horse")
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        cffi.verify(encoded, "correct horsE")


@pytest.mark.parametrize("kind", [Type.ID, Type.I, Type.D])
@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_argon2_cffi_hashes_check_here(kind: Type, lanes: int) -> None:
    cffi = argon2.PasswordHasher(time_cost=2, memory_cost=8 * lanes, parallelism=lanes, type=kind)
    encoded = cffi.hash("pässword")
    assert verify_password(encoded, "pässword")
    assert not verify_password(encoded, "password")
    assert not verify_password(encoded, "")


@settings(max_examples=30, deadline=None)
@given(
    password=st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    salt=st.binary(min_size=8, max_size=32),
    lanes=st.integers(1, 4),
    time_cost=st.integers(1, 3),
)
def test_the_lanes_in_one_thread_give_the_bytes_of_many(
    password: str, salt: bytes, lanes: int, time_cost: int
) -> None:
    secret = password.encode()
    ours = argon2id._raw(
        secret,
        salt,
        time_cost=time_cost,
        memory_kib=8 * lanes,
        lanes=lanes,
        hash_len=32,
        kind=Type.ID,
        version=argon2.low_level.ARGON2_VERSION,
    )
    assert ours == hash_secret_raw(secret, salt, time_cost, 8 * lanes, lanes, 32, Type.ID)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_text_as_a_hash_matches_nothing_and_never_raises(text: str) -> None:
    assert verify_password(text, "pw") is False


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "$argon2id$v=19$m=64,t=1,p=4$c2FsdHNhbHQ$",  # no digest
        "$argon2id$v=19$m=64,t=1,p=4$c2FsdHNhbHQ$!!!!",  # not base64
        "$argon2id$v=19$m=1,t=1,p=4$c2FsdHNhbHQ$c2FsdHNhbHQ",  # memory below 8 a lane
        "$argon2id$v=19$m=64,t=0,p=4$c2FsdHNhbHQ$c2FsdHNhbHQ",  # no pass
        "$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$c2FsdHNhbHQ",  # no lane
        "$argon2id$v=19$m=64,t=1,p=4$$c2FsdHNhbHQ",  # no salt
        "$scrypt$v=19$m=64,t=1,p=4$c2FsdHNhbHQ$c2FsdHNhbHQ",
        "$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$c2FsdHNhbHQ",
        # Numbers the C context cannot hold (cffi would raise OverflowError) or not as
        # argon2 writes them.
        "$argon2id$v=19$m=64,t=-1,p=4$c2FsdHNhbHQ$c2FsdHNhbHQ",
        "$argon2id$v=19$m=99999999999,t=1,p=4$c2FsdHNhbHQ$c2FsdHNhbHQ",
        "$argon2id$v=19$m=64,t=1,p=4294967297$c2FsdHNhbHQ$c2FsdHNhbHQ",
        "$argon2id$v=19$m=64,t=+1,p=4$c2FsdHNhbHQ$c2FsdHNhbHQ",
        "$argon2id$v=19$m=64,t=1_0,p=4$c2FsdHNhbHQ$c2FsdHNhbHQ",
        "$argon2id$v=18$m=64,t=1,p=4$c2FsdHNhbHQ$c2FsdHNhbHQ",
    ],
)
def test_a_malformed_hash_matches_nothing(encoded: str) -> None:
    assert verify_password(encoded, "pw") is False


def test_only_the_base64_argon2_writes_is_read() -> None:
    encoded = hash_password("pw", **CHEAP)
    assert verify_password(encoded, "pw")
    assert not verify_password(encoded + "=", "pw")  # padded
    # The digest's last character with an unused bit set: the same bytes, not the string.
    head, digest = encoded.rsplit("$", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(digest[-1])
    assert last % 4 == 0  # 32 bytes: the last character carries 4 bits and 2 unused
    assert not verify_password(f"{head}${digest[:-1]}{alphabet[last + 1]}", "pw")


def test_a_hash_without_a_version_is_version_16() -> None:
    cffi = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=2)
    encoded = argon2.low_level.hash_secret(
        b"pw", b"saltsaltsalt", 1, 64, 2, 32, Type.ID, version=16
    ).decode()
    legacy = encoded.replace("$v=16", "")
    assert cffi.verify(legacy, "pw")
    assert verify_password(legacy, "pw")
    assert verify_password(encoded, "pw")
    assert not verify_password(legacy, "pW")


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _most_threads_while(work: threading.Thread) -> int:
    work.start()
    most = 0
    while work.is_alive():
        most = max(most, _threads())
    work.join()
    return most


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_a_four_lane_hash_starts_no_thread() -> None:
    cost = {"time_cost": 3, "memory_kib": 32768, "parallelism": 4}
    before = _threads()
    cffi = argon2.PasswordHasher(time_cost=3, memory_cost=32768, parallelism=4)
    # The control: argon2-cffi starts a thread a lane, and the count sees them.
    assert _most_threads_while(threading.Thread(target=cffi.hash, args=("pw",))) > before + 1
    assert _most_threads_while(
        threading.Thread(target=hash_password, args=("pw",), kwargs=cost)
    ) == (
        before + 1  # the worker itself
    )
