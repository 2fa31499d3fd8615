"""What a picture may be and what is made of it: the formats and dimensions taken, and
the smaller copies a phone shows. The pixel work (picture_copies, with Pillow) and the
storing and linking (media) both follow these, so neither has to import the other."""

import msgspec

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 8000 * 8000
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# The copies a phone needs, by their longest side in pixels: a list's thumbnail, and a
# full-screen view (an X-ray of 3000×1500 is 1600×800 there). Never enlarged.
SIZES = (("thumb", 320), ("screen", 1600))
# Each copy in WebP (smaller; every current phone and browser shows it) and in JPEG for
# the clients that do not.
COPY_FORMATS = {
    "webp": ("WEBP", "image/webp", "webp", {"quality": 80, "method": 4}),
    "jpeg": ("JPEG", "image/jpeg", "jpg", {"quality": 82, "optimize": True}),
}


class Copy(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    format: str
    data: bytes
    width: int
    height: int


class Prepared(msgspec.Struct, frozen=True, kw_only=True):
    """A picture made ready to store: the cleaned original and its copies."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    copies: list[Copy]
