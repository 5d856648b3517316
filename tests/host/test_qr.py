"""Tests for tokenctl.qr: generated QR codes, photo-like pictures of them, and bad images."""

from __future__ import annotations

import io
import random

import pytest
import segno
from import_formats import GOOD, ga_export, otpauth_uri
from PIL import Image, ImageDraw, ImageFilter

from tokenctl import imports, qr
from tokenctl.errors import InputError

URI = otpauth_uri(GOOD[0])


def qr_image(text: str, scale: int = 6, error: str = "m") -> Image.Image:
    buf = io.BytesIO()
    segno.make(text, error=error, micro=False).save(buf, kind="png", scale=scale, border=4)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def photographed(code: Image.Image, angle: float, blur: float, seed: int = 1) -> Image.Image:
    """A phone's picture of a screen: scaled, tilted, on a dim background, soft and noisy."""
    rnd = random.Random(seed)
    big = code.resize((code.width * 2 + 37, code.height * 2 + 37), Image.Resampling.BILINEAR)
    tilted = big.rotate(angle, expand=True, fillcolor=(215, 220, 225))
    scene = Image.new("RGB", (tilted.width + 400, tilted.height + 300), (70, 64, 58))
    scene.paste(tilted, (230, 120))
    scene = scene.filter(ImageFilter.GaussianBlur(blur))
    # Dim the whites and lift the blacks (a screen under room light), then add sensor noise.
    noise = Image.effect_noise(scene.size, 40).convert("RGB")
    scene = Image.blend(scene, noise, 0.18)
    return scene.point(lambda v: int(v * 0.75 + 30 + rnd.random()))


def test_generated_png():
    assert qr.decode(encoded(qr_image(URI))) == [URI]


@pytest.mark.parametrize("angle,blur", [(0, 0), (12, 1.5), (33, 2.5), (90, 1), (-47, 2)])
def test_photographed_jpeg(angle, blur):
    photo = photographed(qr_image(URI, scale=5), angle, blur)
    assert qr.decode(encoded(photo, "JPEG", quality=55)) == [URI]


def test_photo_at_a_slant_with_uneven_light():
    """The phone held off-axis (keystone) and a lamp on one side of the screen."""
    code = photographed(qr_image(URI, scale=5), 6, 1.2)
    w, h = code.size
    # Perspective: the far edge narrower than the near one.
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(w * 0.12, h * 0.05), (w * 0.9, 0), (w, h), (0, h * 0.97)]
    coeffs = _perspective(dst, src)
    slanted = code.transform(code.size, Image.Transform.PERSPECTIVE, coeffs, fillcolor=(60,) * 3)
    light = Image.linear_gradient("L").rotate(90).resize(slanted.size)
    lit = Image.composite(slanted, slanted.point(lambda v: v // 2), light)
    assert qr.decode(encoded(lit, "JPEG", quality=60)) == [URI]


def _perspective(dst, src):
    """Coefficients for Image.transform mapping output corners `dst` to input corners `src`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return _solve(rows, rhs)


def _solve(a, b):
    """Gaussian elimination for the 8x8 system (no numpy in the dependencies)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def test_small_low_resolution_screenshot():
    code = qr_image(URI, scale=2)  # 2 px per module, as in a zoomed-out screenshot
    assert qr.decode(encoded(code, "JPEG", quality=80)) == [URI]


def test_transparent_png_is_read_on_white():
    code = qr_image(URI).convert("L")
    rgba = Image.new("RGBA", code.size, (0, 0, 0, 0))
    rgba.putalpha(code.point(lambda v: 255 - v))  # dark modules opaque, the rest see-through
    assert qr.decode(encoded(rgba)) == [URI]


def test_large_photo_is_scaled_down_first():
    code = qr_image(URI, scale=40)  # ~2,500 px wide: a 24 MP phone photo of a monitor
    scene = Image.new("RGB", (code.width + 3000, code.height + 1000), (90, 90, 90))
    scene.paste(code, (1500, 500))
    assert qr.decode(encoded(scene, "JPEG", quality=85)) == [URI]


def test_several_codes_in_reading_order():
    texts = [otpauth_uri(r) for r in GOOD[:3]]
    codes = [qr_image(t, scale=4) for t in texts]
    w = max(c.width for c in codes)
    sheet = Image.new("RGB", (w * 2 + 40, w * 2 + 40), "white")
    sheet.paste(codes[0], (0, 0))
    sheet.paste(codes[1], (w + 40, 0))
    sheet.paste(codes[2], (0, w + 40))
    assert qr.decode(encoded(sheet)) == texts


def test_google_export_as_qr_images(tmp_path):
    paths = []
    for n, uri in enumerate(ga_export(GOOD[:1] + GOOD[2:4], per_batch=2)):
        paths.append(tmp_path / f"ga{n}.jpg")
        paths[-1].write_bytes(encoded(photographed(qr_image(uri, scale=4), 8 * n, 1), "JPEG"))
    result = imports.read_files(paths, lambda w: "")
    assert [a.label for a in result.accounts] == [
        "Deno:mason@example.com",
        "Airbnb:elijah",
        "Issuu:james",
    ]
    assert result.rejects == []


def test_read_accounts_for_accounts_add(tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(encoded(qr_image(URI)))
    (account,) = qr.read_accounts(path)
    assert account.label == "Deno:mason@example.com"


def test_read_accounts_points_google_exports_to_import(tmp_path):
    path = tmp_path / "ga.png"
    path.write_bytes(encoded(qr_image(ga_export(GOOD[:1])[0])))
    with pytest.raises(InputError, match="use `tokenctl import`"):
        qr.read_accounts(path)


def test_read_accounts_other_qr_code(tmp_path):
    path = tmp_path / "url.png"
    path.write_bytes(encoded(qr_image("https://example.com/")))
    with pytest.raises(InputError, match="not an otpauth:// URI"):
        qr.read_accounts(path)


def test_read_accounts_bad_uri_never_quotes_the_secret(tmp_path):
    path = tmp_path / "bad.png"
    path.write_bytes(encoded(qr_image(URI.replace("digits=6", "digits=12"))))
    with pytest.raises(InputError, match="digits must be 6, 7 or 8") as err:
        qr.read_accounts(path)
    assert GOOD[0][2] not in str(err.value)


# --- images without a code, and files that are no image ----------------------------------


def test_image_without_qr_code():
    picture = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((40, 40, 200, 200), fill="black")
    draw.text((220, 120), "no code here", fill="black")
    with pytest.raises(InputError, match="no QR code found"):
        qr.decode(encoded(picture))


def test_code_too_blurred_to_read():
    ruined = qr_image(URI).filter(ImageFilter.GaussianBlur(12))
    with pytest.raises(InputError, match="no QR code found"):
        qr.decode(encoded(ruined))


@pytest.mark.parametrize(
    "data,message",
    [
        (b"otpauth://totp/x?secret=AAAA", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image"),
        (b"", "not an image"),
    ],
)
def test_not_an_image(data, message):
    with pytest.raises(InputError, match=message):
        qr.decode(data)


def test_truncated_jpeg():
    data = encoded(qr_image(URI), "JPEG")
    with pytest.raises(InputError):
        qr.decode(data[: len(data) // 3])


def test_decompression_bomb_is_refused():
    # A tiny PNG that claims 100,000 x 100,000 pixels: refused from its header.
    bomb = encoded(Image.new("1", (10_000, 10_000)))
    header_only = bytearray(bomb)
    header_only[16:24] = (100_000).to_bytes(4, "big") * 2
    with pytest.raises(InputError, match="too large|not an image|damaged"):
        qr.decode(bytes(header_only))


def test_image_file_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(qr, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.png"
    path.write_bytes(encoded(qr_image(URI)))
    with pytest.raises(InputError, match="too large"):
        qr.read_image_file(path)


def test_looks_like_image():
    assert qr.looks_like_image(encoded(qr_image(URI)))
    assert qr.looks_like_image(encoded(qr_image(URI), "JPEG"))
    assert qr.looks_like_image(encoded(qr_image(URI), "WEBP"))
    assert not qr.looks_like_image(b'{"header": {}}')
