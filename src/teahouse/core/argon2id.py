"""argon2 hashing with the lanes computed in the calling thread.

argon2's *parallelism* (``p``) is part of the hash: a hash made with ``p=4`` has four
lanes, and only a check that computes four lanes gives the same bytes. How many threads
compute them is not part of it. argon2-cffi always starts ``p`` threads; this module
computes every lane in the calling thread, so a hash takes one CPU, whatever its ``p``.

Why: on this kind of machine (two cores) the default cost (64 MiB, three passes, four
lanes) is bound by memory bandwidth, not CPU. Four threads finish a hash only 5-20 %
sooner than one (about 180 against 190-240 ms, measured), while they keep both cores busy
and the event loop waits several milliseconds for one whenever it wakes. One thread a hash
leaves a core to the loop. The encoded strings are argon2-cffi's, byte for byte, and each
side checks the other's hashes (tests compare them). Reading a stored string is stricter
than argon2-cffi's (which lets ``int()`` and a lenient base64 decoder through): only the
form argon2 writes, so no stored string reaches the C context with a number it cannot hold.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
from typing import NamedTuple

import argon2
from argon2.low_level import ARGON2_VERSION, Type, core, ffi

SALT_BYTES = 16
HASH_BYTES = 32
"""argon2-cffi's defaults (``PasswordHasher``), so both make the same kind of string."""

_UINT32_MAX = 0xFFFFFFFF
_NUMBER = r"(0|[1-9][0-9]{0,9})"
_B64 = r"([A-Za-z0-9+/]+)"
_ENCODED = re.compile(
    rf"\$argon2(id|i|d)(?:\$v=(16|19))?\$m={_NUMBER},t={_NUMBER},p={_NUMBER}\${_B64}\${_B64}"
)
_TYPES = {"id": Type.ID, "i": Type.I, "d": Type.D}

_ARGON2_OK = 0
_ARGON2_DEFAULT_FLAGS = 0
"""From argon2.h (argon2-cffi's ``lib`` carries them, untyped)."""


class _Stored(NamedTuple):
    kind: Type
    version: int
    memory_kib: int
    time_cost: int
    lanes: int
    salt: bytes
    digest: bytes


def _raw(
    secret: bytes,
    salt: bytes,
    *,
    time_cost: int,
    memory_kib: int,
    lanes: int,
    hash_len: int,
    kind: Type,
    version: int,
) -> bytes:
    out = ffi.new("uint8_t[]", hash_len)
    pwd = ffi.new("uint8_t[]", secret)
    salt_buf = ffi.new("uint8_t[]", salt)
    ctx = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": hash_len,
            "pwd": pwd,
            "pwdlen": len(secret),
            "salt": salt_buf,
            "saltlen": len(salt),
            "secret": ffi.NULL,
            "secretlen": 0,
            "ad": ffi.NULL,
            "adlen": 0,
            "t_cost": time_cost,
            "m_cost": memory_kib,
            "lanes": lanes,
            "threads": 1,
            "version": version,
            "allocate_cbk": ffi.NULL,
            "free_cbk": ffi.NULL,
            "flags": _ARGON2_DEFAULT_FLAGS,
        },
    )
    code = core(ctx, kind.value)
    if code != _ARGON2_OK:
        raise argon2.exceptions.HashingError(argon2.low_level.error_to_str(code))
    return bytes(ffi.buffer(out, hash_len))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, time_cost: int, memory_kib: int, parallelism: int) -> str:
    """An encoded argon2id hash of ``password`` (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``),
    computed in this thread. Raises ``argon2.exceptions.HashingError`` on bad parameters."""
    salt = os.urandom(SALT_BYTES)
    digest = _raw(
        password.encode("utf-8"),
        salt,
        time_cost=time_cost,
        memory_kib=memory_kib,
        lanes=parallelism,
        hash_len=HASH_BYTES,
        kind=Type.ID,
        version=ARGON2_VERSION,
    )
    return (
        f"$argon2id$v={ARGON2_VERSION}$m={memory_kib},t={time_cost},p={parallelism}"
        f"${_b64(salt)}${_b64(digest)}"
    )


def _parse(encoded: str) -> _Stored | None:
    """The parts of an encoded hash, or None when it is not in the form argon2 writes
    (decimal numbers without sign or leading zero, each within 32 bits; canonical unpadded
    base64). No ``$v=`` means version 16, as argon2 reads it."""
    match = _ENCODED.fullmatch(encoded)
    if match is None:
        return None
    kind, version, memory, time_cost, lanes, salt_text, digest_text = match.groups()
    numbers = (int(memory), int(time_cost), int(lanes))
    if any(n > _UINT32_MAX for n in numbers):
        return None
    try:
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except ValueError:
        return None
    if _b64(salt) != salt_text or _b64(digest) != digest_text:
        return None  # bits set past the end: not the string argon2 would have written
    return _Stored(
        _TYPES[kind], int(version or 16), numbers[0], numbers[1], numbers[2], salt, digest
    )


def verify_password(encoded: str, password: str) -> bool:
    """Whether ``password`` matches the encoded argon2 hash (argon2id, argon2i or argon2d,
    version 16 or 19), computed in this thread. A malformed hash matches nothing."""
    stored = _parse(encoded)
    if stored is None:
        return False
    try:
        computed = _raw(
            password.encode("utf-8"),
            stored.salt,
            time_cost=stored.time_cost,
            memory_kib=stored.memory_kib,
            lanes=stored.lanes,
            hash_len=len(stored.digest),
            kind=stored.kind,
            version=stored.version,
        )
    except argon2.exceptions.HashingError:
        return False  # parameters argon2 refuses (too little memory for the lanes...)
    return hmac.compare_digest(computed, stored.digest)
