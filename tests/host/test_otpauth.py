"""Tests for tokenctl.otpauth: the otpauth:// Key Uri Format and Account."""

import base64
import hashlib
from urllib.parse import quote

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenctl.errors import InputError
from tokenctl.otpauth import Account, from_fields, parse_uri, read_uri_file

# 20 bytes: the RFC 4226 test secret "12345678901234567890".
SECRET = b"12345678901234567890"
SECRET_B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
# A secret that must never appear in any message (16 bytes).
CANARY_B32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp_uri(label="Example:alice@example.com", **params):
    params.setdefault("secret", SECRET_B32)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"otpauth://totp/{label}?{query}"


def hotp_uri(label="Example:alice@example.com", **params):
    params.setdefault("secret", SECRET_B32)
    params.setdefault("counter", "0")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"otpauth://hotp/{label}?{query}"


# --- good URIs ----------------------------------------------------------------------------


def test_wiki_example_totp():
    uri = (
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example"
        "&algorithm=SHA1&digits=6&period=30"
    )
    with pytest.raises(InputError, match="too short"):
        parse_uri(uri.replace("JBSWY3DPEHPK3PXP", "JBSWY3DP"))  # 5 bytes
    acct = parse_uri(uri)
    assert acct == Account("totp", "Example", "alice@google.com", b"Hello!\xde\xad\xbe\xef")
    assert acct.label == "Example:alice@google.com"
    assert acct.weak


def test_full_totp():
    acct = parse_uri(totp_uri(issuer="Example", algorithm="SHA256", digits="8", period="60"))
    assert acct.type == "totp"
    assert (acct.issuer, acct.name, acct.secret) == ("Example", "alice@example.com", SECRET)
    assert (acct.algorithm, acct.digits, acct.period, acct.counter) == ("SHA256", 8, 60, 0)
    assert not acct.weak


def test_hotp():
    acct = parse_uri(hotp_uri(counter="42", algorithm="sha512", digits="7"))
    assert acct.type == "hotp"
    assert (acct.algorithm, acct.digits, acct.counter, acct.period) == ("SHA512", 7, 42, 30)


def test_hotp_max_counter():
    assert parse_uri(hotp_uri(counter=str(2**64 - 1))).counter == 2**64 - 1


def test_case_insensitive_type_scheme_algorithm_and_secret():
    uri = f"OTPAUTH://TOTP/Example:bob?secret={SECRET_B32.lower()}&algorithm=sha256"
    acct = parse_uri(uri)
    assert (acct.type, acct.algorithm, acct.secret) == ("totp", "SHA256", SECRET)


@pytest.mark.parametrize(
    "secret",
    [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
        "gezd%20gnbv%20gy3t%20qojq%20gezd%20gnbv%20gy3t%20qojq",
        "gezdgnbvgy3tqojq+GEZDGNBVGY3TQOJQ",
    ],
)
def test_secret_spellings(secret):
    assert parse_uri(totp_uri(secret=secret)).secret == SECRET


def test_secret_padding_optional():
    raw = bytes(range(11))  # 11 bytes -> 18 chars + 6 padding
    padded = base64.b32encode(raw).decode()
    assert padded.endswith("======")
    assert parse_uri(totp_uri(secret=padded.replace("=", "%3D"))).secret == raw
    assert parse_uri(totp_uri(secret=padded.rstrip("="))).secret == raw


def test_minimum_secret_is_80_bits():
    raw = bytes(10)
    acct = parse_uri(totp_uri(secret=base64.b32encode(raw).decode()))
    assert acct.secret == raw and acct.weak


def test_unknown_parameters_ignored():
    acct = parse_uri(totp_uri(image="https%3A%2F%2Fexample.com%2Flogo.png", foo="bar"))
    assert acct.name == "alice@example.com"


def test_irrelevant_parameters_ignored():
    # period means nothing for hotp, counter nothing for totp.
    assert parse_uri(hotp_uri(period="60")).period == 30
    assert parse_uri(totp_uri(counter="5")).counter == 0


# --- issuer rules -------------------------------------------------------------------------


def test_issuer_label_only():
    acct = parse_uri(totp_uri(label="ACME:carol"))
    assert (acct.issuer, acct.name, acct.label) == ("ACME", "carol", "ACME:carol")


def test_issuer_param_only():
    acct = parse_uri(totp_uri(label="carol", issuer="ACME"))
    assert (acct.issuer, acct.name) == ("ACME", "carol")


def test_issuer_both_agree():
    acct = parse_uri(totp_uri(label="ACME%20Co:carol", issuer="ACME%20Co"))
    assert acct.issuer == "ACME Co"


def test_issuer_both_disagree():
    with pytest.raises(InputError, match="issuer"):
        parse_uri(totp_uri(label="ACME:carol", issuer="Evil"))


def test_no_issuer():
    acct = parse_uri(totp_uri(label="carol"))
    assert (acct.issuer, acct.label) == ("", "carol")
    assert acct.to_wire()["i"] == ""


def test_empty_issuer_param_is_absent():
    assert parse_uri(totp_uri(label="ACME:carol", issuer="")).issuer == "ACME"


# --- label encoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    ["ACME:carol", "ACME%3Acarol", "ACME%3acarol", "ACME:%20carol", "ACME%20:%20%20carol"],
)
def test_label_separators_and_trimming(label):
    acct = parse_uri(totp_uri(label=label))
    assert (acct.issuer, acct.name) == ("ACME", "carol")


def test_percent_encoding():
    acct = parse_uri(totp_uri(label="Big%20Corp:john.doe%40email.com%2Fwork"))
    assert (acct.issuer, acct.name) == ("Big Corp", "john.doe@email.com/work")


def test_name_keeps_later_colons():
    acct = parse_uri(totp_uri(label="ACME:user%3A1:x"))
    assert (acct.issuer, acct.name) == ("ACME", "user:1:x")


def test_unicode_names():
    label = quote("Bäckerei Müller") + ":" + quote("jürgen@例え.jp")
    acct = parse_uri(totp_uri(label=label, issuer=quote("Bäckerei Müller")))
    assert (acct.issuer, acct.name) == ("Bäckerei Müller", "jürgen@例え.jp")


def test_plus_is_literal_in_label():
    assert parse_uri(totp_uri(label="a+b")).name == "a+b"


# --- bad input ----------------------------------------------------------------------------

BAD = [
    ("wrong scheme", f"https://totp/x?secret={SECRET_B32}", "scheme"),
    ("no scheme", f"totp/x?secret={SECRET_B32}", "scheme"),
    ("bad type", f"otpauth://motp/x?secret={SECRET_B32}", "type"),
    ("no type", f"otpauth:///x?secret={SECRET_B32}", "type"),
    ("missing secret", "otpauth://totp/x?issuer=a", "secret parameter is missing"),
    ("empty secret", "otpauth://totp/x?secret=", "secret parameter is missing"),
    ("bad base32 char", "otpauth://totp/x?secret=GEZDGNBVGY3TQOJ1", "base32"),
    ("bad base32 length", "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQG", "base32"),
    ("padding in middle", "otpauth://totp/x?secret=GEZD%3DGNBVGY3TQOJQ", "base32"),
    ("too short secret", "otpauth://totp/x?secret=GEZDGNBVGY3TQ", "too short"),
    ("too long secret", "otpauth://totp/x?secret=" + "A" * 104, "too long"),
    ("MD5", totp_uri(algorithm="MD5"), "algorithm"),
    ("empty algorithm", totp_uri(algorithm=""), "algorithm"),
    ("digits 5", totp_uri(digits="5"), "digits"),
    ("digits 9", totp_uri(digits="9"), "digits"),
    ("digits word", totp_uri(digits="six"), "digits"),
    ("period 0", totp_uri(period="0"), "period"),
    ("period negative", totp_uri(period="-30"), "period"),
    ("period huge", totp_uri(period="3601"), "period"),
    ("hotp no counter", f"otpauth://hotp/x?secret={SECRET_B32}", "counter parameter is required"),
    ("negative counter", hotp_uri(counter="-1"), "counter"),
    ("counter 2**64", hotp_uri(counter=str(2**64)), "counter"),
    ("counter float", hotp_uri(counter="1.5"), "counter"),
    ("too long issuer", totp_uri(label="x", issuer="I" * 65), "issuer is too long"),
    ("too long issuer utf8", totp_uri(label=quote("é" * 33) + ":x"), "issuer is too long"),
    ("too long name", totp_uri(label="n" * 65), "account name is too long"),
    ("empty name", totp_uri(label="ACME:"), "account name is empty"),
    ("no label", f"otpauth://totp?secret={SECRET_B32}", "account name is empty"),
    ("control char", totp_uri(label="a%0Ab"), "control"),
    ("bad utf8 label", totp_uri(label="a%FFb"), "UTF-8"),
    ("bad utf8 param", totp_uri(issuer="%FF"), "UTF-8"),
    ("duplicate secret", totp_uri(secret=SECRET_B32) + f"&secret={SECRET_B32}", "more than once"),
    ("issuer with colon", totp_uri(label="x", issuer="a%3Ab"), "issuer must not contain"),
    ("empty", "", "empty"),
]


@pytest.mark.parametrize("uri, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_uris(uri, expected):
    with pytest.raises(InputError, match=expected) as info:
        parse_uri(uri)
    message = str(info.value)
    assert message.startswith("invalid otpauth URI: ")
    assert uri not in message or not uri
    assert SECRET_B32 not in message


@pytest.mark.parametrize(
    "mutation",
    [
        {"algorithm": "MD5"},
        {"digits": "5"},
        {"period": "0"},
        {"issuer": "Other"},
        {"algorithm": f"MD5;secret={CANARY_B32}"},
        {"digits": f"{CANARY_B32}"},
        {"period": f"{CANARY_B32}"},
    ],
)
def test_secret_never_in_message(mutation):
    uri = totp_uri(label="ACME:carol", secret=CANARY_B32, **mutation)
    with pytest.raises(InputError) as info:
        parse_uri(uri)
    message = str(info.value)
    for needle in (CANARY_B32, CANARY_B32.lower(), uri):
        assert needle not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_bad_secret_not_echoed():
    bad = CANARY_B32[:-1] + "1"
    with pytest.raises(InputError, match="not valid base32") as info:
        parse_uri(totp_uri(secret=bad))
    assert bad not in str(info.value) and bad.lower() not in str(info.value)


def test_non_string():
    with pytest.raises(InputError):
        parse_uri(None)


# --- Account ------------------------------------------------------------------------------


def test_repr_hides_secret():
    acct = Account("totp", "ACME", "carol", SECRET)
    text = repr(acct) + str(acct)
    assert "secret" not in text
    assert repr(SECRET) not in text and SECRET.decode() not in text
    assert "ACME" in text and "carol" in text


def test_account_is_frozen():
    acct = Account("totp", "ACME", "carol", SECRET)
    with pytest.raises(AttributeError):
        acct.name = "mallory"


def test_account_validates():
    with pytest.raises(InputError, match="too short"):
        Account("totp", "ACME", "carol", b"short")
    with pytest.raises(InputError, match="digits"):
        Account("totp", "ACME", "carol", SECRET, digits=True)
    with pytest.raises(InputError, match="counter applies only to hotp"):
        Account("totp", "ACME", "carol", SECRET, counter=3)
    with pytest.raises(InputError, match="period applies only to totp"):
        Account("hotp", "ACME", "carol", SECRET, period=60)


def test_label_without_issuer():
    assert Account("totp", "", "carol", SECRET).label == "carol"


def test_to_wire_compact_defaults():
    assert Account("totp", "ACME", "carol", SECRET).to_wire() == {
        "k": 0,
        "i": "ACME",
        "n": "carol",
        "s": SECRET_B32,
    }
    assert Account("hotp", "ACME", "carol", SECRET).to_wire() == {
        "k": 1,
        "i": "ACME",
        "n": "carol",
        "s": SECRET_B32,
    }


def test_to_wire_non_defaults():
    totp = Account("totp", "A", "b", SECRET, algorithm="SHA512", digits=8, period=60)
    assert totp.to_wire() == {
        "k": 0,
        "i": "A",
        "n": "b",
        "s": SECRET_B32,
        "a": "SHA512",
        "d": 8,
        "p": 60,
    }
    hotp = Account("hotp", "A", "b", SECRET, digits=7, counter=9)
    assert hotp.to_wire() == {"k": 1, "i": "A", "n": "b", "s": SECRET_B32, "d": 7, "c": 9}


def test_to_wire_secret_unpadded():
    wire = Account("totp", "A", "b", bytes(11)).to_wire()
    assert "=" not in wire["s"]
    assert base64.b32decode(wire["s"] + "======") == bytes(11)


# --- from_fields --------------------------------------------------------------------------


def test_from_fields_defaults():
    acct = from_fields(" ACME ", " carol ", SECRET_B32.lower())
    assert acct == Account("totp", "ACME", "carol", SECRET)


def test_from_fields_hotp():
    acct = from_fields(None, "carol", SECRET_B32, type="HOTP", algorithm="sha256", counter=5)
    assert acct == Account("hotp", "", "carol", SECRET, algorithm="SHA256", counter=5)


def test_from_fields_none_means_default():
    acct = from_fields("A", "b", SECRET_B32, algorithm=None, digits=None, period=None)
    assert acct == Account("totp", "A", "b", SECRET)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"secret_b32": CANARY_B32 + "1"}, "base32"),
        ({"secret_b32": "GEZDGNBV"}, "too short"),
        ({"secret_b32": ""}, "secret is empty"),
        ({"name": "  "}, "account name is empty"),
        ({"issuer": "x" * 65}, "issuer is too long"),
        ({"type": "motp"}, "type"),
        ({"algorithm": "MD5"}, "algorithm"),
        ({"digits": 5}, "digits"),
        ({"digits": "6"}, "digits"),
        ({"period": 0}, "period"),
        ({"counter": -1}, "counter"),
        ({"type": "hotp", "counter": 2**64}, "counter"),
        ({"counter": 1}, "counter applies only to hotp"),
    ],
)
def test_from_fields_bad(kwargs, expected):
    args = {"issuer": "ACME", "name": "carol", "secret_b32": CANARY_B32, **kwargs}
    with pytest.raises(InputError, match=expected) as info:
        from_fields(**args)
    assert CANARY_B32 not in str(info.value)
    assert str(info.value).startswith("invalid account: ")


# --- read_uri_file ------------------------------------------------------------------------

GOOD_A = totp_uri(label="A:one")
GOOD_B = hotp_uri(label="B:two", counter="3")


def test_read_text():
    text = f"# my accounts\n\n{GOOD_A}\n   \n  # indented comment\n{GOOD_B}\n"
    accounts = read_uri_file(text)
    assert [a.label for a in accounts] == ["A:one", "B:two"]


def test_read_single_uri_text():
    assert [a.label for a in read_uri_file(GOOD_A)] == ["A:one"]


def test_read_empty():
    assert read_uri_file("") == []
    assert read_uri_file("# nothing\n") == []


def test_read_path(tmp_path):
    path = tmp_path / "accounts.txt"
    path.write_text(f"\ufeff{GOOD_A}\r\n# c\r\n{GOOD_B}\r\n", encoding="utf-8")
    assert len(read_uri_file(path)) == 2
    assert len(read_uri_file(str(path))) == 2


def test_read_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_uri_file(tmp_path / "nope.txt")


def test_read_errors_all_or_nothing():
    bad_secret = totp_uri(label="C:x", secret=CANARY_B32 + "1")
    lines = [GOOD_A, "# comment", bad_secret, "", GOOD_B, "not a uri", totp_uri(digits="9")]
    with pytest.raises(InputError) as info:
        read_uri_file("\n".join(lines))
    message = str(info.value)
    assert "3 bad lines" in message
    assert "line 3: secret is not valid base32" in message
    assert "line 6: scheme" in message
    assert "line 7: digits" in message
    for n in (1, 2, 4, 5):
        assert f"line {n}:" not in message
    assert CANARY_B32 not in message
    assert "not a uri" not in message and "C:x" not in message


def test_read_bad_utf8_line(tmp_path):
    path = tmp_path / "accounts.txt"
    path.write_bytes(GOOD_A.encode() + b"\n\xff\xfe\n" + GOOD_B.encode() + b"\n")
    with pytest.raises(InputError, match="line 2: not valid UTF-8"):
        read_uri_file(path)


# --- properties ---------------------------------------------------------------------------

_TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))


def _fits(limit):
    return lambda s: s == s.strip() and len(s.encode()) <= limit


issuers = st.text(_TEXT_CHARS, max_size=20).filter(lambda s: ":" not in s).filter(_fits(64))
names = st.text(_TEXT_CHARS, min_size=1, max_size=20).filter(lambda s: s).filter(_fits(64))


@st.composite
def accounts(draw):
    otp_type = draw(st.sampled_from(["totp", "hotp"]))
    return Account(
        type=otp_type,
        issuer=draw(issuers),
        name=draw(names),
        secret=draw(st.binary(min_size=10, max_size=64) | st.binary(min_size=14, max_size=64)),
        algorithm=draw(st.sampled_from(["SHA1", "SHA256", "SHA512"])),
        digits=draw(st.sampled_from([6, 7, 8])),
        period=draw(st.integers(1, 3600) | st.integers(1, 120)) if otp_type == "totp" else 30,
        counter=draw(st.integers(0, 2**64 - 1)) if otp_type == "hotp" else 0,
    )


def build_uri(acct: Account, issuer_param: bool, padded: bool) -> str:
    if acct.issuer:
        label = quote(acct.issuer, safe="") + ":" + quote(acct.name, safe="")
    elif ":" in acct.name:
        label = ":" + quote(acct.name, safe="")  # empty issuer keeps the name's colon
    else:
        label = quote(acct.name, safe="")
    secret = base64.b32encode(acct.secret).decode()
    if not padded:
        secret = secret.rstrip("=")
    params = {"secret": quote(secret, safe=""), "algorithm": acct.algorithm}
    params["digits"] = str(acct.digits)
    if acct.type == "totp":
        params["period"] = str(acct.period)
    else:
        params["counter"] = str(acct.counter)
    if issuer_param and acct.issuer:
        params["issuer"] = quote(acct.issuer, safe="")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"otpauth://{acct.type}/{label}?{query}"


PYOTP_MIN_SECRET = 14
PYOTP_MAX_PERIOD = 120


@settings(max_examples=300)
@given(accounts(), st.booleans(), st.booleans())
def test_roundtrip_and_pyotp_agrees(acct, issuer_param, padded):
    uri = build_uri(acct, issuer_param, padded)
    assert parse_uri(uri) == acct

    # pyotp 2.12 is stricter than the Key Uri Format on two points: it refuses secrets under
    # 112 bits and periods over 120 s. Cross-check within its envelope.
    if len(acct.secret) < PYOTP_MIN_SECRET or acct.period > PYOTP_MAX_PERIOD:
        return
    otp = pyotp.parse_uri(uri)
    assert isinstance(otp, pyotp.TOTP if acct.type == "totp" else pyotp.HOTP)
    assert otp.byte_secret() == acct.secret
    assert otp.digits == acct.digits
    assert otp.digest().name == hashlib.new(acct.algorithm.lower()).name
    assert (otp.issuer or "") == acct.issuer
    assert otp.name == acct.name
    if acct.type == "totp":
        assert otp.interval == acct.period
    else:
        assert otp.initial_count == acct.counter


@given(accounts())
def test_roundtrip_via_file(acct):
    uri = build_uri(acct, True, False)
    assert read_uri_file(f"# one\n{uri}\n\n{uri}") == [acct, acct]


@given(accounts())
def test_to_wire_decodes_back(acct):
    wire = acct.to_wire()
    s = wire["s"]
    assert base64.b32decode(s + "=" * (-len(s) % 8)) == acct.secret
    assert wire["k"] == (0 if acct.type == "totp" else 1)
    assert wire.get("a", "SHA1") == acct.algorithm
    assert wire.get("d", 6) == acct.digits
    assert wire.get("p", 30) == acct.period
    assert wire.get("c", 0) == acct.counter
    assert ("p" in wire) <= (acct.type == "totp") and ("c" in wire) <= (acct.type == "hotp")
    assert (
        from_fields(
            wire["i"],
            wire["n"],
            s,
            type=acct.type,
            algorithm=acct.algorithm,
            digits=acct.digits,
            period=acct.period,
            counter=acct.counter,
        )
        == acct
    )


@given(st.text(max_size=200))
def test_garbage_never_crashes(text):
    try:
        parse_uri(text)
    except InputError:
        pass
