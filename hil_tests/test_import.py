"""`tokenctl import` and `accounts add --qr` against the token, codes checked against pyotp.

The exports are the real-format fixtures in tests/host/data/imports/ (see its README), and
QR images made from them with segno.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import segno

DATA = Path(__file__).parents[1] / "tests" / "host" / "data" / "imports"
PASSWORD = "correct horse battery staple"  # the fixtures' (test) password

# What the fixtures hold (test secrets): label -> (secret, digest, digits, period or counter).
TOTP = {
    "Deno:mason@example.com": ("4SJHB4GSD43FZBAI7C2HLRJGPQ", "sha1", 6, 30),
    "SPDX:james": ("5OM4WOOGPLQEF6UGN3CPEOOLWU", "sha256", 7, 20),
    "Airbnb:elijah": ("7ELGJSGA6ERKGS6PCVTWPHCDDE", "sha512", 8, 30),
}
HOTP = {"Issuu:james": ("YOOMIXWS5GN6RTBPUFFWKTW5M4", "sha1", 6, 1)}
SECRETS = [s for s, *_ in [*TOTP.values(), *HOTP.values()]]


def no_secret(r) -> None:
    for secret in SECRETS:
        assert secret not in r.stdout + r.stderr


def check_totp_codes(cli, labels) -> None:
    codes = json.loads(cli("code", json=True).stdout)
    shown = {c["account"]: c["code"] for c in codes["codes"]}
    for label in labels:
        secret, digest, digits, period = TOTP[label]
        otp = pyotp.TOTP(secret, digits=digits, digest=digest, interval=period)
        assert shown[label] == otp.at(codes["now"]), label


def test_import_encrypted_aegis_vault(cli, token, tmp_path):
    token.sync_time()
    deno = "otpauth://totp/Deno:mason%40example.com?secret=4SJHB4GSD43FZBAI7C2HLRJGPQ"
    assert cli("accounts", "add", deno + "&issuer=Deno").returncode == 0
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    vault = str(DATA / "aegis_encrypted.json")

    dry = cli("import", "--dry-run", "--password-file", str(pw), vault)
    assert dry.returncode == 0, dry.stderr
    assert "Would add (4)" in dry.stdout and "Dry run: nothing added" in dry.stdout
    assert len(token.accounts()) == 1

    r = cli("import", "--password-file", str(pw), vault, json=True)
    assert r.returncode == 0, r.stderr
    no_secret(r)
    report = json.loads(r.stdout)
    assert report["formats"] == ["aegis (encrypted)"]
    assert report["duplicates"] == ["Deno:mason@example.com"]
    assert report["added"] == ["SPDX:james", "Airbnb:elijah", "Issuu:james", "Air Canada:benjamin"]
    assert [x["entry"] for x in report["rejected"]] == ["Boeing:sophia"]
    assert report["total"] == 5 == len(token.accounts())

    check_totp_codes(cli, TOTP)
    secret, digest, digits, counter = HOTP["Issuu:james"]
    hotp = json.loads(cli("code", "Issuu:james", json=True).stdout)["codes"][0]
    assert hotp["code"] == pyotp.HOTP(secret, digits=digits, digest=digest).at(counter)

    again = cli("import", "--password-file", str(pw), vault)  # everything is there now
    assert again.returncode == 0 and "Nothing new to add" in again.stdout
    no_secret(again)


def test_import_google_export_from_qr_images_and_add_by_qr(cli, token, tmp_path):
    token.sync_time()
    images = []
    uris = (DATA / "google_authenticator.txt").read_text().split()
    for n, uri in enumerate(uris):
        images.append(str(tmp_path / f"export-{n + 1}-of-{len(uris)}.png"))
        segno.make(uri, error="m").save(images[-1], scale=5)
    r = cli("import", *images)
    assert r.returncode == 0, r.stderr
    no_secret(r)
    assert "Adding (3)" in r.stdout and "Added 3 account(s)" in r.stdout

    shot = tmp_path / "screenshot.png"
    spdx = "otpauth://totp/SPDX:james?secret=5OM4WOOGPLQEF6UGN3CPEOOLWU&issuer=SPDX"
    segno.make(spdx + "&algorithm=SHA256&digits=7&period=20").save(shot, scale=4, border=8)
    r = cli("accounts", "add", "--qr", str(shot))
    assert r.returncode == 0, r.stderr

    labels = [f"{a['i']}:{a['n']}" for a in token.accounts()]
    assert labels == ["Deno:mason@example.com", "Airbnb:elijah", "Issuu:james", "SPDX:james"]
    check_totp_codes(cli, TOTP)
