"""Image-folder layout (ImageNet style): ``root/<split>/<class>/<image>``.

Classes are the sorted subfolder names, labels their positions. Images are read with
Pillow (an optional dependency), converted to RGB and, when ``image_size`` is given,
resized so the shorter side is ``image_size`` and centre-cropped to a square. Without
``image_size`` every image must already have the same size. If ``root/<split>`` does
not exist, ``root`` itself is taken as the folder of classes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stablenets.data._files import CorruptFileError, missing_layout

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("the image-folder loader needs Pillow: pip install pillow") from None
    return Image


def _square(img, size: int):
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))))
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def load_imagefolder(root: Path, split: str, image_size: int | None = None):
    folder = root / split if (root / split).is_dir() else root
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not classes:
        raise missing_layout("imagefolder", root, f"{split}/<class>/<image> (one subfolder per class)")
    Image = _pil()
    arrays, labels = [], []
    for label, cls in enumerate(classes):
        for path in sorted((folder / cls).iterdir()):
            if path.suffix.lower() not in EXTENSIONS:
                continue
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    arrays.append(np.asarray(_square(im, image_size) if image_size else im, dtype=np.uint8))
            except (OSError, SyntaxError) as e:
                raise CorruptFileError(f"{path}: cannot decode image ({e}); remove or replace it.") from None
            labels.append(label)
    if not arrays:
        raise missing_layout("imagefolder", root, f"{split}/<class>/<image> with image files ({sorted(EXTENSIONS)})")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"{folder}: images have different sizes {sorted(shapes)[:3]}...; pass image_size=N to "
                         "resize and centre-crop them to N×N.")
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return images, torch.tensor(labels, dtype=torch.int64)
