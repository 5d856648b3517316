"""QR codes in images: screenshots and photos of screens showing otpauth:// codes.

Decoding is zxing-cpp's (a maintained C++ decoder that finds codes at any angle and scale);
this module only loads the image safely with Pillow and hands it over. The decoded text
carries secrets, so nothing here ever puts it into a message.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from tokenctl.errors import InputError
from tokenctl.otpauth import Account

if TYPE_CHECKING:
    from PIL import Image

MAX_FILE_BYTES = 32 * 1024 * 1024  # a 50 MP phone JPEG is well under this
MAX_PIXELS = 64_000_000  # Pillow would decode bigger images into gigabytes of memory
_WORK_SIDE = 3000  # larger photos are scaled down first: zxing is quick and just as good there

# The leading bytes of the image formats people save screenshots and photos in.
_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF, little- and big-endian
    b"MM\x00*",
)


def looks_like_image(data: bytes) -> bool:
    """True when the bytes start like an image file (PNG, JPEG, GIF, BMP, TIFF, WebP)."""
    return data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def read_image_file(path: str | Path) -> list[str]:
    """The text of every QR code in the image at `path` (InputError when there is none)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path.name}: too large for an image ({size // 2**20} MiB)")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc.__class__.__name__}") from None
    return decode(data, path.name)


def decode(data: bytes, what: str = "image") -> list[str]:
    """The text of every QR code in an encoded image (PNG, JPEG, ...), in reading order.

    InputError when the bytes are not an image or the image holds no readable QR code.
    """
    from PIL import ImageFilter, ImageOps

    image = _load(data, what)
    texts = _scan(image)
    if not texts:
        # Blurred or low-contrast photos: stretch the contrast and sharpen, then look again.
        texts = _scan(ImageOps.autocontrast(image, cutoff=1).filter(ImageFilter.SHARPEN))
    if not texts:
        raise InputError(f"{what}: no QR code found (a sharper, closer, evenly lit picture helps)")
    return texts


def _load(data: bytes, what: str) -> Image.Image:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InputError(f"{what}: image too large ({image.width}x{image.height} pixels)")
            image.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InputError(f"{what}: not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError):  # truncated or corrupt files
        raise InputError(f"{what}: the image is damaged or truncated") from None
    image = ImageOps.exif_transpose(image)  # phone photos: rotate as the camera saw it
    if image.mode in ("RGBA", "LA", "P", "PA"):
        # Transparent screenshots: flatten onto white, so transparent means light.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        image = Image.alpha_composite(background, rgba)
    image = image.convert("L")
    if max(image.size) > _WORK_SIDE:
        image.thumbnail((_WORK_SIDE, _WORK_SIDE), Image.Resampling.LANCZOS)
    return image


def _scan(image: Image.Image) -> list[str]:
    import zxingcpp  # imported here: only image imports need the native library

    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)

    found = zxingcpp.read_barcodes(image, formats=qr_only)
    # Reading order (top to bottom, then left to right), so several codes on one screenshot
    # come out the way a person would scan them.
    found.sort(key=lambda b: (b.position.top_left.y // 50, b.position.top_left.x))
    return [b.text for b in found if b.valid and b.text]


def read_accounts(path: str | Path) -> list[Account]:
    """The accounts in an image of otpauth:// QR codes; all or nothing (InputError)."""
    from tokenctl.otpauth import parse_uri

    accounts = []
    for text in read_image_file(path):
        if text[:18].lower() == "otpauth-migration:":
            raise InputError(
                f"{Path(path).name} holds a Google Authenticator export: "
                "use `tokenctl import` for it"
            )
        if text[:8].lower() != "otpauth:":
            raise InputError(f"{Path(path).name}: a QR code that is not an otpauth:// URI")
        accounts.append(parse_uri(text))
    return accounts
