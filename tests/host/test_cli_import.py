"""`tokenctl import` and `accounts add --qr`: bad input is refused (exit 8) before any token
is opened, and no secret reaches the output. (With a token: hil_tests/test_import.py.)"""

from __future__ import annotations

import json

import pytest
from import_formats import DATA, GOOD, PASSWORD, STEAM, aegis_entry, aegis_vault

from tokenctl.cli.main import main
from tokenctl.errors import EXIT_INPUT

NO_PORT = ["--port", "/nonexistent/tty"]  # a command that got as far as the port exits 3


def run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        main([*NO_PORT, *args])
    out, err = capsys.readouterr()
    text = out + err
    for row in [*GOOD, STEAM]:
        assert row[2] not in text  # no secret, whatever happened
    return exit_.value.code, text


def test_missing_file(capsys):
    code, text = run(capsys, "import", "/nonexistent/export.json")
    assert code == EXIT_INPUT and "cannot read" in text


def test_encrypted_without_terminal_needs_password_file(capsys):
    code, text = run(capsys, "import", str(DATA / "aegis_encrypted.json"))
    assert code == EXIT_INPUT and "--password-file" in text


def test_wrong_password_file(capsys, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("wrong\n")
    code, text = run(
        capsys, "import", "--password-file", str(pw), str(DATA / "twofas_encrypted.2fas")
    )
    assert code == EXIT_INPUT and "wrong password" in text


@pytest.mark.parametrize("content", [b"", b"\n", b"\xff\xfe"])
def test_unusable_password_file(capsys, tmp_path, content):
    pw = tmp_path / "pw"
    pw.write_bytes(content)
    code, text = run(
        capsys, "import", "--password-file", str(pw), str(DATA / "aegis_encrypted.json")
    )
    assert code == EXIT_INPUT and "password file" in text


def test_password_file_is_read_to_the_first_line(capsys, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\nsecond line\n")
    # The password is right: the command gets as far as the (missing) token.
    code, _ = run(capsys, "import", "--password-file", str(pw), str(DATA / "aegis_encrypted.json"))
    assert code == 3


def test_nothing_importable_lists_the_reasons(capsys, tmp_path):
    path = tmp_path / "steam.json"
    path.write_text(json.dumps(aegis_vault([aegis_entry(STEAM)])))
    code, text = run(capsys, "import", str(path))
    assert code == EXIT_INPUT
    assert "nothing to import" in text and "Boeing:sophia: Steam codes are not supported" in text


def test_not_an_export(capsys, tmp_path):
    path = tmp_path / "notes.bin"
    path.write_bytes(bytes(range(256)))
    code, text = run(capsys, "import", str(path))
    assert code == EXIT_INPUT and "not an image, a JSON export" in text


def test_accounts_add_qr_not_an_image(capsys, tmp_path):
    path = tmp_path / "x.png"
    path.write_text("hello")
    code, text = run(capsys, "accounts", "add", "--qr", str(path))
    assert code == EXIT_INPUT and "not an image" in text


def test_accounts_add_qr_and_uri_together(capsys, tmp_path):
    code, text = run(capsys, "accounts", "add", "--qr", "a.png", "otpauth://totp/x?secret=AAAA")
    assert code == EXIT_INPUT and "exactly one of" in text
