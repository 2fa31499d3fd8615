"""The pixel work of a picture (Pillow): checked, re-encoded without its metadata, and its
smaller copies made. Imported by backend.services.media on the first picture, so web
workers that never take one do not carry Pillow."""

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from backend.services.errors import Invalid
from backend.services.picture_formats import (
    COPY_FORMATS,
    FORMATS,
    MAX_BYTES,
    MAX_PIXELS,
    SIZES,
    Copy,
    Prepared,
)


def decode(data: bytes) -> tuple[Image.Image, str]:
    if len(data) > MAX_BYTES:
        raise Invalid(f"the picture is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format or ""
            if kind not in FORMATS:
                raise Invalid("only JPEG, PNG and WebP pictures are accepted")
            if probe.width * probe.height > MAX_PIXELS:
                raise Invalid("the picture is too large")
            probe.load()
            # A phone's photo is stored sideways with an EXIF note to turn it; the note
            # goes with the EXIF below, so the turn is made here.
            image = ImageOps.exif_transpose(probe)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise Invalid("this is not a readable picture") from exc
    return image, kind


def clean_image(data: bytes) -> tuple[bytes, str, str]:
    """Re-encode the picture: a photo's EXIF can hold GPS position and device ids, which
    have no business in a patient's record. Returns (bytes, content type, extension)."""
    image, kind = decode(data)
    return (_encode_original(image, kind), *FORMATS[kind])


def _encode_original(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    save = {"JPEG": {"quality": 90}, "WEBP": {"quality": 90}, "PNG": {"optimize": True}}[kind]
    image.save(out, format=kind, **save)
    return out.getvalue()


def _displayable(image: Image.Image) -> Image.Image:
    """8 bits a channel, as WebP and JPEG take them: a 16-bit X-ray scaled down (not
    clipped), a palette opened, CMYK turned to RGB."""
    if image.mode in ("RGB", "RGBA", "L"):
        return image
    if image.mode.startswith("I"):  # 16- or 32-bit grey
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.mode in ("LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    return image.convert("RGB")


def _flat(image: Image.Image) -> Image.Image:
    """JPEG has no transparency: transparent parts on white, as a page shows them."""
    if image.mode != "RGBA":
        return image
    white = Image.new("RGB", image.size, (255, 255, 255))
    white.paste(image, mask=image.getchannel("A"))
    return white


def make_copies(image: Image.Image) -> list[Copy]:
    """The thumbnail and the screen size, each in WebP and JPEG."""
    base = _displayable(image)
    copies = []
    for name, longest in SIZES:
        scaled = base.copy()
        scaled.thumbnail((longest, longest), Image.Resampling.LANCZOS, reducing_gap=3.0)
        for fmt, (pil_format, _, _, options) in COPY_FORMATS.items():
            out = io.BytesIO()
            (_flat(scaled) if fmt == "jpeg" else scaled).save(out, format=pil_format, **options)
            copies.append(
                Copy(
                    name=name,
                    format=fmt,
                    data=out.getvalue(),
                    width=scaled.width,
                    height=scaled.height,
                )
            )
    return copies


def prepare(data: bytes) -> Prepared:
    """Check, clean and copy an uploaded picture (CPU work: run it in a thread)."""
    image, kind = decode(data)
    content_type, extension = FORMATS[kind]
    return Prepared(
        data=_encode_original(image, kind),
        content_type=content_type,
        extension=extension,
        width=image.width,
        height=image.height,
        copies=make_copies(image),
    )
