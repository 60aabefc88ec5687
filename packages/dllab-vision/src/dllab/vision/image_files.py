"""Reading image files for prediction and previews: RGB uint8 tensors, conversions reported.

``read_image`` opens any format Pillow reads. An image that is not RGB (grayscale, RGBA,
palette, CMYK...) is converted to RGB, and one of another size is resized when a size is
asked for; each conversion comes back as a note for the caller to show as a warning. A file
that is not an image, or one too large to decode safely, raises ``ValueError`` with one line
naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

MAX_PIXELS = 40_000_000
"""Images with more pixels are refused before they are decoded."""


def read_image(
    path: str | os.PathLike[str], size: int | None = None, max_side: int | None = None
) -> tuple[Tensor, list[str]]:
    """Read an image file as uint8 RGB ``(3, H, W)``; returns it and the conversions made.

    Args:
        path: the image file.
        size: resize to ``size × size`` if it differs (bilinear, antialiased).
        max_side: shrink (keeping the aspect ratio) if a side is longer than this.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: it is not an image Pillow can read, or it has over ``MAX_PIXELS`` pixels.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    notes: list[str] = []
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise ValueError(
                    f"{path}: {width}x{height} is too large ({width * height:,} pixels; "
                    f"the limit is {MAX_PIXELS:,})"
                )
            image = opened.convert("RGB") if opened.mode != "RGB" else opened.copy()
            if opened.mode != "RGB":
                notes.append(f"converted from {opened.mode} to RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise ValueError(
            f"{path} is not an image file that can be read ({_first_line(err)})"
        ) from None
    except OSError as err:  # truncated or damaged data
        raise ValueError(f"{path}: the image cannot be decoded ({_first_line(err)})") from None
    if size is not None and image.size != (size, size):
        notes.append(f"resized from {image.width}x{image.height} to {size}x{size}")
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    elif max_side is not None and max(image.size) > max_side:
        notes.append(f"shrunk from {image.width}x{image.height} to fit {max_side} pixels")
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)  # (H, W, 3)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous(), notes


def _first_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
