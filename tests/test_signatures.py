"""Webhook signatures: exact bytes, timestamps within tolerance, several secrets, no guessing."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.lib.signatures import (
    TOLERANCE_SECONDS,
    SignatureError,
    sign_github,
    sign_timestamped,
    verify_github,
    verify_timestamped,
)

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","type":"demo.ping"}'
secrets_ = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=2048)


def test_a_signed_body_verifies_with_both_schemes():
    verify_timestamped(sign_timestamped(SECRET, BODY), BODY, [SECRET])
    verify_github(sign_github(SECRET, BODY), BODY, [SECRET])


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_header_is_refused(header):
    with pytest.raises(SignatureError, match="missing"):
        verify_timestamped(header, BODY, [SECRET])
    with pytest.raises(SignatureError, match="missing"):
        verify_github(header, BODY, [SECRET])


@pytest.mark.parametrize(
    "header",
    [
        "t=abc,v1=00",
        "v1=" + "a" * 64,
        "t=1700000000",
        "t=1,v1=XYZ",
        "garbage",
        "t=1,v1=" + "A" * 64,
    ],
)
def test_malformed_timestamped_headers_are_refused(header):
    with pytest.raises(SignatureError, match="malformed"):
        verify_timestamped(header, BODY, [SECRET])


@pytest.mark.parametrize("header", ["sha1=" + "a" * 64, "sha256=", "sha256=zz", "a" * 71])
def test_malformed_github_headers_are_refused(header):
    with pytest.raises(SignatureError, match="malformed"):
        verify_github(header, BODY, [SECRET])


@pytest.mark.parametrize("skew", [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1, -86400, 86400])
def test_timestamps_beyond_the_tolerance_are_refused(skew):
    header = sign_timestamped(SECRET, BODY, int(time.time()) + skew)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_timestamped(header, BODY, [SECRET])


@pytest.mark.parametrize("skew", [-TOLERANCE_SECONDS + 2, TOLERANCE_SECONDS - 2])
def test_timestamps_within_the_tolerance_pass(skew):
    verify_timestamped(sign_timestamped(SECRET, BODY, int(time.time()) + skew), BODY, [SECRET])


def test_the_timestamp_is_part_of_what_is_signed():
    now = int(time.time())
    signature = sign_timestamped(SECRET, BODY, now).split("v1=")[1]
    with pytest.raises(SignatureError, match="does not match"):
        verify_timestamped(f"t={now - 1},v1={signature}", BODY, [SECRET])


def test_any_of_several_v1_and_any_live_secret_verifies():
    old, new = "whsec_old", "whsec_new"
    now = int(time.time())
    both = f"t={now},v1={'0' * 64},v1={sign_timestamped(old, BODY, now).split('v1=')[1]}"
    verify_timestamped(both, BODY, [new, old])
    verify_github(sign_github(old, BODY), BODY, [new, old])
    with pytest.raises(SignatureError):
        verify_timestamped(both, BODY, [new])


def test_no_secrets_verify_nothing():
    with pytest.raises(SignatureError):
        verify_timestamped(sign_timestamped(SECRET, BODY), BODY, [])
    with pytest.raises(SignatureError):
        verify_github(sign_github(SECRET, BODY), BODY, [])


@given(secret=secrets_, body=bodies)
def test_property_a_correctly_signed_random_body_passes(secret, body):
    verify_timestamped(sign_timestamped(secret, body), body, [secret])
    verify_github(sign_github(secret, body), body, [secret])


@given(secret=secrets_, body=bodies.filter(len), data=st.data())
def test_property_any_single_flipped_body_byte_fails(secret, body, data):
    position = data.draw(st.integers(0, len(body) - 1))
    bit = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128]))
    tampered = body[:position] + bytes([body[position] ^ bit]) + body[position + 1 :]
    with pytest.raises(SignatureError):
        verify_timestamped(sign_timestamped(secret, body), tampered, [secret])
    with pytest.raises(SignatureError):
        verify_github(sign_github(secret, body), tampered, [secret])


@given(secret=secrets_, body=bodies, data=st.data())
def test_property_any_single_flipped_header_byte_fails(secret, body, data):
    for header, verify in (
        (sign_timestamped(secret, body), verify_timestamped),
        (sign_github(secret, body), verify_github),
    ):
        raw = header.encode()
        position = data.draw(st.integers(0, len(raw) - 1))
        flipped = raw[:position] + bytes([raw[position] ^ 1]) + raw[position + 1 :]
        with pytest.raises(SignatureError):
            verify(flipped.decode("latin-1"), body, [secret])


@given(header=st.text(max_size=300), body=bodies, secret=secrets_)
def test_property_random_headers_never_verify(header, body, secret):
    with pytest.raises(SignatureError):
        verify_timestamped(header, body, [secret])
    with pytest.raises(SignatureError):
        verify_github(header, body, [secret])


@given(
    t=st.integers(0, 2**40),
    candidates=st.lists(st.text("0123456789abcdef", min_size=64, max_size=64), max_size=4),
    body=bodies,
)
def test_property_well_formed_random_signatures_never_verify(t, candidates, body):
    header = ",".join([f"t={t}", *[f"v1={c}" for c in candidates]])
    with pytest.raises(SignatureError):
        verify_timestamped(header, body, [SECRET], now=t)
