"""Image grids: whole frames side by side under caption strips (comparisons, validation grids, studies).

Captions sit in a white strip above each frame, never over the picture, so every pixel stays comparable.
"""
import os

import cv2
import numpy as np

CAPTION_HEIGHT = 22
WHITE = 255


def captioned(img, text, height=CAPTION_HEIGHT):
    """``img`` (H, W, 3 uint8) whole, under a white strip of ``height`` px that names it."""
    strip = np.full((height, img.shape[1], 3), WHITE, dtype=np.uint8)
    scale = 0.45 * height / CAPTION_HEIGHT
    cv2.putText(strip, text, (4, height - 7), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, np.ascontiguousarray(img)], axis=0)


def side_by_side(panels, gap=4, caption_height=CAPTION_HEIGHT):
    """Frames of one size left to right, white ``gap`` px apart; each under its caption unless it is None.

    Args:
        panels (list[tuple[str | None, np.ndarray]]): (caption, H x W x 3 uint8 image) pairs.
        gap (int): White columns between frames.
        caption_height (int): Height of the caption strips (0 = no captions at all).
    """
    shapes = {img.shape for _, img in panels}
    if len(shapes) != 1:
        raise ValueError(f'panels differ in size: {sorted(shapes)}')
    parts = []
    for text, img in panels:
        if caption_height:
            img = captioned(img, text or '', caption_height)
        if parts and gap:
            parts.append(np.full((img.shape[0], gap, 3), WHITE, dtype=np.uint8))
        parts.append(np.ascontiguousarray(img))
    return np.concatenate(parts, axis=1)


def grid(titles, rows, gap=0, caption_height=18):
    """Rows of same-sized frames, one column per title; the titles caption the first row only.

    Args:
        titles (list[str]): Column titles.
        rows (list[list[np.ndarray]]): One list of H x W x 3 uint8 images per row, in title order.
    """
    lines = [side_by_side(list(zip(titles, rows[0])), gap, caption_height)]
    lines += [side_by_side([(None, img) for img in row], gap, 0) for row in rows[1:]]
    return np.concatenate(lines, axis=0)


def write_image(path, img):
    """Write an H x W x 3 uint8 BGR image (creating its folder); an OSError names the file if it cannot be written."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, img):
        raise OSError(f'could not write {path}')
    return path
