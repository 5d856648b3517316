"""Tests for tokenctl.imports: each export format, good and broken, and the import plan."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from import_formats import (
    DATA,
    GOOD,
    PASSWORD,
    STEAM,
    aegis_entry,
    aegis_vault,
    ga_export,
    ga_params,
    ga_params_of,
    ga_payload,
    ga_uri,
    otpauth_uri,
    secret_bytes,
    twofas_backup,
    twofas_service,
)

from tokenctl import imports
from tokenctl.errors import InputError
from tokenctl.imports import aegis, google

LABELS = [f"{r[0]}:{r[1]}" for r in GOOD]
SECRETS = [r[2] for r in [*GOOD, STEAM]]
FAST_SCRYPT = {"n": 2**10, "r": 8, "p": 1}  # tests only: Aegis uses N=2^15


def never_asked(what: str) -> str:
    raise AssertionError(f"asked for a password: {what}")


def password(what: str) -> str:
    return PASSWORD


def read(tmp_path: Path, name: str, content: str | bytes | dict, ask=never_asked):
    path = tmp_path / name
    if isinstance(content, dict):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return imports.read_files([path], ask)


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text)


def fields(account) -> tuple:
    return (
        account.issuer,
        account.name,
        base64.b32encode(account.secret).decode().rstrip("="),
        account.type,
        account.algorithm,
        account.digits,
        account.period,
        account.counter,
    )


# --- the stored fixtures: every format, the same accounts --------------------------------


@pytest.mark.parametrize(
    "name,kind",
    [
        ("aegis_plain.json", "aegis"),
        ("aegis_encrypted.json", "aegis (encrypted)"),
        ("twofas_plain.2fas", "2fas"),
        ("twofas_encrypted.2fas", "2fas (encrypted)"),
        ("otpauth.txt", "otpauth"),
    ],
)
def test_stored_fixture(name, kind):
    ask = password if "encrypted" in name else never_asked
    result = imports.read_files([DATA / name], ask)
    assert result.formats == [kind]
    assert [fields(a) for a in result.accounts] == [
        (i, n, s, t, a, d, p if t == "totp" else 30, c if t == "hotp" else 0)
        for i, n, s, t, a, d, p, c in GOOD
    ]
    assert [r.entry for r in result.rejects] == ["Boeing:sophia"]
    assert "Steam codes are not supported" in result.rejects[0].reason
    assert_no_secret(result.rejects, result.formats)


def test_stored_google_export():
    result = imports.read_files([DATA / "google_authenticator.txt"], never_asked)
    assert result.formats == ["google-authenticator"]
    assert [a.label for a in result.accounts] == [
        "Deno:mason@example.com",
        "Airbnb:elijah",
        "Issuu:james",
    ]
    assert result.rejects == []
    airbnb = result.accounts[1]
    assert (airbnb.algorithm, airbnb.digits, airbnb.period) == ("SHA512", 8, 30)
    assert (result.accounts[2].type, result.accounts[2].counter) == ("hotp", 1)


def test_regenerated_fixtures_read_the_same(tmp_path):
    from import_formats import write_fixtures

    write_fixtures(tmp_path)
    for path in sorted(DATA.glob("*.*")):
        if path.suffix == ".md":
            continue
        ask = password if "encrypted" in path.name else never_asked
        old = imports.read_files([path], ask)
        new = imports.read_files([tmp_path / path.name], ask)
        assert [fields(a) for a in new.accounts] == [fields(a) for a in old.accounts], path.name
        assert new.rejects == old.rejects


# --- Google Authenticator ------------------------------------------------------------------


def test_google_batches_in_any_order_and_scanned_twice(tmp_path):
    uris = ga_export(GOOD[:1] + GOOD[2:4], per_batch=1)
    result = read(tmp_path, "ga.txt", "\n".join([uris[2], uris[0], uris[1], uris[0]]))
    assert [a.label for a in result.accounts] == [LABELS[0], LABELS[2], LABELS[3]]
    assert result.rejects == []


def test_google_batches_across_files(tmp_path):
    uris = ga_export(GOOD[:1] + GOOD[2:4], per_batch=2)
    paths = []
    for n, uri in enumerate(uris):
        paths.append(tmp_path / f"part{n}.txt")
        paths[-1].write_text(uri)
    result = imports.read_files(paths, never_asked)
    assert len(result.accounts) == 3 and result.rejects == []


def test_google_missing_batch_is_reported(tmp_path):
    uris = ga_export(GOOD[:1] + GOOD[2:4], per_batch=1)
    result = read(tmp_path, "ga.txt", "\n".join([uris[0], uris[2]]))
    assert len(result.accounts) == 2
    assert result.rejects == [
        imports.Reject(
            "Google Authenticator QR code 2 of 3",
            "missing from the input: give every QR code of the export",
        )
    ]


def test_google_entries_it_cannot_take(tmp_path):
    secret = secret_bytes(GOOD[0][2])
    params = [
        ga_params("Ok", "fine", secret),
        ga_params("Md5", "m", secret, algo="MD5"),
        ga_params("Unknown", "type", secret, type_number=0),
        ga_params("Odd", "digits", secret, digits_number=7),
        ga_params("Short", "secret", b"\x01\x02\x03"),
        ga_params("Empty", "secret", b""),
        ga_params("Neg", "counter", secret, "hotp", counter=-1),
    ]
    result = read(tmp_path, "ga.txt", ga_uri(ga_payload(params)))
    assert [a.label for a in result.accounts] == ["Ok:fine"]
    assert dict(result.rejects) == {
        "Md5:m": "unsupported algorithm (SHA1, SHA256 or SHA512 only)",
        "Unknown:type": "unknown OTP type (the token computes TOTP and HOTP only)",
        "Odd:digits": "unknown number of digits",
        "Short:secret": "secret is too short (3 bytes; at least 10 bytes = 80 bits required)",
        "Empty:secret": "the secret is empty",
        "Neg:counter": "counter must be an integer 0..2**64-1",
    }


def test_google_name_prefix_and_missing_issuer(tmp_path):
    secret = secret_bytes(GOOD[0][2])
    params = [
        ga_params("", "GitLab:ann", secret),  # issuer only in the label
        ga_params("Other", "Mine:bob", secret),  # a different prefix is part of the name
        ga_params("Solo", "", secret),  # no account name: the issuer names it
    ]
    result = read(tmp_path, "ga.txt", ga_uri(ga_payload(params)))
    assert [(a.issuer, a.name) for a in result.accounts] == [
        ("GitLab", "ann"),
        ("Other", "Mine:bob"),
        ("", "Solo"),
    ]
    assert result.rejects == []


@pytest.mark.parametrize(
    "uri,reason",
    [
        ("otpauth-migration://offline?data=%%%%", "not valid base64"),
        ("otpauth-migration://offline", "exactly one data parameter"),
        ("otpauth-migration://offline?data=AA&data=AA", "exactly one data parameter"),
        ("otpauth-migration://online?data=AAAA", "not an otpauth-migration://offline URI"),
        # Bytes that are no MigrationPayload (a truncated length-delimited field).
        ("otpauth-migration://offline?data=" + base64.b64encode(b"\x0a\x50abc").decode(), "not a"),
    ],
)
def test_google_broken_uris(tmp_path, uri, reason):
    good = otpauth_uri(GOOD[0])
    result = read(tmp_path, "ga.txt", good + "\n" + uri)
    assert [a.label for a in result.accounts] == [LABELS[0]]
    ((entry, why),) = result.rejects
    assert entry == "ga.txt line 2" and reason in why


def test_google_plus_signs_that_lost_their_encoding(tmp_path):
    raw = base64.b64encode(ga_payload([ga_params_of(GOOD[3])])).decode()
    assert "+" in raw
    # Copy-pasted URIs sometimes carry base64 unencoded, and '+' then reads as a space.
    for data in (raw, raw.replace("+", " ")):
        result = read(tmp_path, "ga.txt", "otpauth-migration://offline?data=" + data)
        assert [a.label for a in result.accounts] == [LABELS[3]]


def test_google_payload_decoder_direct():
    batches = google.Batches()
    batches.add_payload(ga_payload([ga_params_of(GOOD[3])]))
    (account,) = batches.finish().accounts
    assert fields(account)[:4] == ("Issuu", "james", GOOD[3][2], "hotp")
    with pytest.raises(InputError):
        batches.add_payload(b"\xff\xff\xff")


# --- Aegis ------------------------------------------------------------------------------------


def test_aegis_plain_asks_no_password(tmp_path):
    result = read(tmp_path, "a.json", aegis_vault([aegis_entry(r) for r in GOOD]))
    assert [a.label for a in result.accounts] == LABELS


def test_aegis_encrypted_with_biometric_slot_first(tmp_path):
    vault = aegis_vault([aegis_entry(GOOD[0])], PASSWORD, biometric_slot=True, **FAST_SCRYPT)
    asked = []

    def ask(what):
        asked.append(what)
        return PASSWORD

    result = read(tmp_path, "vault.json", vault, ask)
    assert [a.label for a in result.accounts] == LABELS[:1]
    assert asked == ["Password for the Aegis vault vault.json"]


def test_aegis_wrong_password(tmp_path):
    vault = aegis_vault([aegis_entry(GOOD[0])], PASSWORD, **FAST_SCRYPT)
    with pytest.raises(InputError, match="wrong password for the Aegis vault") as err:
        read(tmp_path, "vault.json", vault, lambda w: "not it")
    assert_no_secret(err.value)


def test_aegis_tampered_contents(tmp_path):
    vault = aegis_vault([aegis_entry(GOOD[0])], PASSWORD, **FAST_SCRYPT)
    db = bytearray(base64.b64decode(vault["db"]))
    db[5] ^= 1
    vault["db"] = base64.b64encode(bytes(db)).decode()
    with pytest.raises(InputError, match="fail their integrity check"):
        read(tmp_path, "vault.json", vault, password)


def test_aegis_only_biometric_slot(tmp_path):
    vault = aegis_vault([aegis_entry(GOOD[0])], PASSWORD, biometric_slot=True, **FAST_SCRYPT)
    vault["header"]["slots"] = vault["header"]["slots"][:1]
    with pytest.raises(InputError, match="no password slot"):
        read(tmp_path, "vault.json", vault, never_asked)


@pytest.mark.parametrize("n,r,p", [(2**22, 8, 1), (2**15, 8, 64), (2**15 + 1, 8, 1), (1, 8, 1)])
def test_aegis_hostile_scrypt_parameters_are_refused_before_work(tmp_path, n, r, p):
    vault = aegis_vault([aegis_entry(GOOD[0])], PASSWORD, **FAST_SCRYPT)
    vault["header"]["slots"][0].update(n=n, r=r, p=p)
    with pytest.raises(InputError, match="scrypt parameters"):
        read(tmp_path, "vault.json", vault, password)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda v: v.update(version=2), "unsupported Aegis vault version"),
        (lambda v: v.update(db=[]), "needs its entries"),
        (lambda v: v["db"].update(entries="x"), "list of entries is missing"),
        (lambda v: v["header"].update(slots=[], params={}), "needs 'db' as Base64"),
    ],
)
def test_aegis_broken_files(tmp_path, change, message):
    vault = aegis_vault([aegis_entry(GOOD[0])])
    change(vault)
    with pytest.raises(InputError, match=message):
        read(tmp_path, "vault.json", vault)


def test_aegis_broken_encrypted_fields(tmp_path):
    vault = aegis_vault([aegis_entry(GOOD[0])], PASSWORD, **FAST_SCRYPT)
    vault["header"]["params"]["nonce"] = "zz"
    with pytest.raises(InputError, match="'nonce' is not hexadecimal"):
        read(tmp_path, "vault.json", vault, password)
    vault = aegis_vault([aegis_entry(GOOD[0])], PASSWORD, **FAST_SCRYPT)
    vault["db"] = "not base64!"
    with pytest.raises(InputError, match="'db' is not valid Base64"):
        read(tmp_path, "vault.json", vault, password)


def test_aegis_entries_it_cannot_take(tmp_path):
    base = aegis_entry(GOOD[0])

    def entry(issuer, **info):
        return {**base, "issuer": issuer, "info": {**base["info"], **info}}

    entries = [
        entry("Ok"),
        entry("Digits", digits=10),
        entry("Period", period=0),
        entry("Secret", secret="not*base32"),
        entry("Algo", algo="MD5"),
        {**entry("Motp"), "type": "motp"},
        {**entry("Yandex"), "type": "yandex"},
        entry("Colon:issuer"),
        {**entry("Ctl"), "name": "bad\x07name"},
        "not an object",
        {**base, "issuer": "NoInfo", "info": None},
        entry("Type", digits="6"),
    ]
    result = read(tmp_path, "vault.json", aegis_vault(entries))
    assert [a.label for a in result.accounts] == ["Ok:mason@example.com"]
    reasons = dict(result.rejects)
    assert reasons == {
        "Digits:mason@example.com": "digits must be 6, 7 or 8",
        "Period:mason@example.com": "period must be 1..3600 seconds",
        "Secret:mason@example.com": "secret is not valid base32",
        "Algo:mason@example.com": "algorithm must be SHA1, SHA256 or SHA512",
        "Motp:mason@example.com": "mOTP codes are not supported (the token computes TOTP and "
        "HOTP only)",
        "Yandex:mason@example.com": "Yandex codes are not supported (the token computes TOTP and "
        "HOTP only)",
        "Colon:issuer:mason@example.com": "issuer must not contain ':'",
        "Ctl:bad?name": "account name contains control characters",
        "entry 10": "not an Aegis entry",
        "NoInfo:mason@example.com": "no 'type' and 'info' in the entry",
        "Type:mason@example.com": "digits must be a whole number",
    }
    assert_no_secret(result.rejects)


# --- 2FAS -----------------------------------------------------------------------------------


def test_twofas_older_schema_without_token_type_or_issuer(tmp_path):
    service = twofas_service(GOOD[0])
    del service["otp"]["tokenType"], service["otp"]["issuer"]
    backup = {"services": [service], "schemaVersion": 2}
    (account,) = read(tmp_path, "old.2fas", backup).accounts
    assert (account.issuer, account.name, account.type) == ("Deno", "mason@example.com", "totp")


def test_twofas_wrong_password(tmp_path):
    backup = twofas_backup([twofas_service(GOOD[0])], PASSWORD)
    with pytest.raises(InputError, match="wrong password for the 2FAS backup"):
        read(tmp_path, "b.2fas", backup, lambda w: "nope")


@pytest.mark.parametrize(
    "value,message",
    [
        ("onlyone", "not CIPHERTEXT:SALT:IV"),
        ("a:b:c", "not valid Base64"),
        ("AAAA:AAAA:AAAA", "bad IV, salt or length"),
        (7, "wrong type"),
    ],
)
def test_twofas_broken_encrypted_field(tmp_path, value, message):
    backup = twofas_backup([twofas_service(GOOD[0])], PASSWORD)
    backup["servicesEncrypted"] = value
    with pytest.raises(InputError, match=message):
        read(tmp_path, "b.2fas", backup, password)


def test_twofas_bad_services(tmp_path):
    good = twofas_service(GOOD[0])
    nameless = {"secret": good["secret"], "otp": {"digits": 6}}
    issuer_only = {**good, "otp": {**good["otp"], "account": "", "label": ""}}
    services = [good, {"name": "x"}, {**good, "secret": None}, nameless, issuer_only]
    result = read(tmp_path, "b.2fas", twofas_backup(services))
    # An entry with an issuer but no account name is named after the issuer.
    assert [a.label for a in result.accounts] == ["Deno:mason@example.com", "Deno"]
    assert dict(result.rejects) == {
        "entry 2": "not a 2FAS service",
        "Deno:mason@example.com": "secret is empty",
        "entry 4": "account name is empty",
    }


# --- otpauth:// lists, detection, plan ---------------------------------------------------


def test_uri_list_takes_the_good_lines(tmp_path):
    lines = [
        "# comment",
        "",
        otpauth_uri(GOOD[0]),
        otpauth_uri(GOOD[1]).replace("digits=7", "digits=9"),
        "otpauth://totp/NoSecret:x?issuer=NoSecret",
        "https://example.com/not-a-uri",
        otpauth_uri(STEAM),
        *ga_export(GOOD[3:4]),
    ]
    result = read(tmp_path, "list.txt", "\r\n".join(lines))
    assert sorted(result.formats) == ["google-authenticator", "otpauth"]
    assert [a.label for a in result.accounts] == [LABELS[0], LABELS[3]]
    assert result.rejects == [
        ("SPDX:james", "digits must be 6, 7 or 8"),
        ("NoSecret:x", "secret parameter is missing"),
        ("list.txt line 6", "not an otpauth:// or otpauth-migration:// URI"),
        ("Boeing:sophia", "Steam codes are not supported (the token computes TOTP and HOTP only)"),
    ]
    assert_no_secret(result.rejects)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "holds no accounts"),
        (b"# only a comment\n", "holds no accounts"),
        (b"\x00\x01\x02binary", "not an image, a JSON export or a text file of URIs"),
        (b"\xff\xfe\xfa", "not an image, a JSON export or a text file of URIs"),
        (b'{"some": "json"}', "not an Aegis vault or a 2FAS backup"),
        (b'{"header": ', "not valid JSON"),
        (b"\x89PNG\r\n\x1a\nbroken", "image"),
    ],
)
def test_unreadable_files(tmp_path, content, message):
    with pytest.raises(InputError, match=message):
        read(tmp_path, "export", content)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        imports.read_files([tmp_path / "nope.json"], never_asked)


def test_bom_and_json_detection_ignore_the_file_name(tmp_path):
    vault = json.dumps(aegis_vault([aegis_entry(GOOD[0])]))
    result = read(tmp_path, "export.txt", "\ufeff" + vault)
    assert result.formats == ["aegis"]


def test_plan_skips_what_the_token_holds_and_repeats():
    found = imports.read_files([DATA / "otpauth.txt"], never_asked).accounts
    existing = [{"i": "SPDX", "n": "james"}, {"i": "Other", "n": "x"}]
    plan = imports.plan(found + found[:2], existing)
    assert [a.label for a in plan.add] == [LABELS[0], *LABELS[2:]]
    assert plan.duplicates == ["SPDX:james"]  # once, though it came twice
    assert plan.repeated == [LABELS[0]]


def test_scrypt_caps_allow_aegis_defaults():
    assert 128 * 2**15 * 8 <= aegis.MAX_SCRYPT_MEMORY
    assert 2**15 * 8 * 1 <= aegis.MAX_SCRYPT_WORK
