"""Key functions: Table-safe, injective and reversible for ANY string; stable vectors."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from shared import keys

FORBIDDEN = set("/\\#?") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}
any_text = st.text(alphabet=st.characters(codec=None), max_size=300)  # incl. lone surrogates


def assert_table_safe(key: str) -> None:
    assert key.isascii()
    assert not (set(key) & FORBIDDEN)
    assert len(key.encode("utf-16-le")) <= 1024


@given(any_text)
def test_encoding_is_safe_and_round_trips(text: str) -> None:
    encoded = keys.encode_key_part(text)
    assert_table_safe(encoded)
    assert "|" not in encoded
    assert len(encoded) <= keys.MAX_ENCODED_PART or len(encoded) == 65
    decoded = keys.decode_key_part(encoded)
    assert decoded == text or (decoded is None and encoded.startswith("~"))


@given(any_text, any_text)
def test_encoding_is_injective(a: str, b: str) -> None:
    if a != b:
        assert keys.encode_key_part(a) != keys.encode_key_part(b)


@given(any_text, any_text, any_text, any_text)
def test_row_keys_are_injective_over_user_and_tenant(u1: str, t1: str, u2: str, t2: str) -> None:
    if (u1, t1) != (u2, t2):
        assert keys.row_key(u1, t1) != keys.row_key(u2, t2)


@given(any_text, any_text, st.datetimes(timezones=st.just(UTC)))
def test_all_keys_are_table_safe(user: str, tenant: str, created: datetime) -> None:
    for key in (
        keys.partition_key(user),
        keys.row_key(user, tenant),
        keys.index_partition_key(created, user),
        keys.index_row_key(created, user, tenant),
        keys.failure_partition_key(user),
        keys.failure_row_key(user),
    ):
        assert_table_safe(key)


@given(any_text, any_text, any_text)
def test_user_prefix_range_holds_exactly_that_users_rows(
    user: str, tenant: str, other: str
) -> None:
    start, stop = keys.user_row_prefix(user)
    assert start <= keys.row_key(user, tenant) < stop
    if other != user:
        assert not start <= keys.row_key(other, tenant) < stop


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_iso_sorts_as_time(a: datetime, b: datetime) -> None:
    assert (keys.iso(a) < keys.iso(b)) == (a < b)
    assert len(keys.iso(a)) == 27


def test_printable_ascii_stays_readable() -> None:
    assert keys.encode_key_part("google-oauth2|1029 x") == "google-oauth2%7C1029 x"
    assert keys.encode_key_part("é") == "%C3%A9"


# The vectors in docs/table-schema.md: other languages check against these.
VECTORS = [
    (
        "auth0|6745a1f09c2b3d4e5f607182",
        "acme-prod",
        "ub6",
        "auth0%7C6745a1f09c2b3d4e5f607182|acme-prod",
    ),
    ("samlp|acme|jdoe", "acme-prod", "u91", "samlp%7Cacme%7Cjdoe|acme-prod"),
    ("a/b\\c#d?e%f~g", "t", "uf7", "a%2Fb%5Cc%23d%3Fe%25f%7Eg|t"),
    ("zoë\x00\u0085", "x", "ubf", "zo%C3%AB%00%C2%85|x"),
    (
        "x" * 300,
        "acme-prod",
        "u0d",
        "~0d4e2ca9e9cbced7a7a5380eb29e1a3783b9b6d0db72de36a1051038e1c1fbc7|acme-prod",
    ),
]


def test_documented_vectors() -> None:
    for user, tenant, partition, row in VECTORS:
        assert keys.partition_key(user) == partition
        assert keys.row_key(user, tenant) == row
    created = datetime(2026, 11, 26, 3, 12, 45, 118000, tzinfo=UTC)
    assert keys.index_partition_key(created, VECTORS[0][0]) == "t2026112603-3"
    assert keys.index_row_key(created, VECTORS[0][0], "acme-prod") == (
        "2026-11-26T03:12:45.118000Z|auth0%7C6745a1f09c2b3d4e5f607182|acme-prod"
    )
    assert keys.failure_partition_key("reg_a71854ac898dacfeeb2d6b9814102a75") == "f72"
    assert keys.failure_row_key("reg_a71854ac898dacfeeb2d6b9814102a75") == (
        "reg_a71854ac898dacfeeb2d6b9814102a75"
    )
