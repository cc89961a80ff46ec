"""Photos: checked from their bytes, bounded, re-encoded without any metadata."""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


class PhotoRejectedError(ValueError):
    """A photo that is not accepted; the message says why."""


@dataclass(frozen=True)
class PhotoLimits:
    """Bounds on what a photo may be."""

    max_bytes: int
    max_pixels: int
    max_side: int


def clean_photo(data: bytes, *, limits: PhotoLimits) -> bytes:
    """Check a photo from its bytes and return it re-encoded as JPEG with no EXIF at all.

    The format is read from the bytes (never the client's Content-Type); the pixel count is
    checked from the header before any decoding, which stops decompression bombs.
    """
    if not data:
        raise PhotoRejectedError("the photo is empty")
    if len(data) > limits.max_bytes:
        raise PhotoRejectedError(f"the photo is larger than {limits.max_bytes // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            # Pillow warns about large images before its own hard limit; ours is lower.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ALLOWED_FORMATS:
                raise PhotoRejectedError(
                    f"the photo is {image.format or 'of an unknown format'}; "
                    "send a JPEG, PNG or WebP image"
                )
            width, height = image.size
            if width * height > limits.max_pixels:
                raise PhotoRejectedError(
                    f"the photo has {width}x{height} pixels, more than the "
                    f"{limits.max_pixels} allowed"
                )
            image.load()
    except PhotoRejectedError:
        raise
    except Image.DecompressionBombError as exc:
        raise PhotoRejectedError(
            f"the photo declares far more pixels than the {limits.max_pixels} allowed"
        ) from exc
    except UnidentifiedImageError as exc:
        raise PhotoRejectedError("the file is not a readable JPEG, PNG or WebP image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejectedError(f"the image is damaged ({exc})") from exc
    # Apply the orientation tag before dropping it, so the photo stays upright.
    upright: Image.Image = ImageOps.exif_transpose(image) or image
    upright.thumbnail((limits.max_side, limits.max_side))
    if upright.mode not in ("RGB", "L"):
        background = Image.new("RGB", upright.size, (255, 255, 255))
        rgba = upright.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        upright = background
    out = io.BytesIO()
    # A fresh image carries no info dict: no EXIF, no GPS, no XMP, no ICC comments.
    clean = Image.new(upright.mode, upright.size)
    clean.paste(upright)
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def store_photo(data: bytes, *, media_path: Path) -> str:
    """Write a cleaned photo under an unguessable name and return that name."""
    name = f"{secrets.token_urlsafe(24)}.jpg"
    media_path.mkdir(parents=True, exist_ok=True)
    (media_path / name).write_bytes(data)
    return name


def delete_photo(name: str, *, media_path: Path) -> None:
    """Remove a stored photo if it is there."""
    (media_path / name).unlink(missing_ok=True)
