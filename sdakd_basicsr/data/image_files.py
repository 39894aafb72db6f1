"""Damaged training images named by file (and by line of ``meta_info``), during training and before it.

OpenCV reports an empty or undecodable image as an assertion or as ``None`` without naming the file.
:class:`FileNamingDataset` wraps any BasicSR dataset (BasicSR builds it, then :mod:`sdakd_basicsr.compat` wraps
it for runs of this project's models): when reading an item fails, it finds which of that item's files is
damaged and raises :class:`DamagedImageError` naming it. :func:`check_image_folder` checks a whole folder before
training (``python -m sdakd_basicsr.check_data FOLDER``).
"""
import os

import cv2
import numpy as np
import torch.utils.data

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


class DamagedImageError(ValueError):
    """An image file that is missing, empty or cannot be decoded; the message names it."""


def image_problem(path):
    """Why ``path`` cannot be used as an image ('' when it can)."""
    if not os.path.isfile(path):
        return 'missing'
    size = os.path.getsize(path)
    if size == 0:
        return 'empty (0 bytes)'
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        return f'not a decodable image ({size:,d} bytes; damaged, truncated or of another format)'
    return ''


def meta_info_line(meta_info, folder, path):
    """1-based line of ``meta_info`` that lists ``path`` (relative to ``folder``), or None."""
    if not meta_info or not os.path.isfile(meta_info):
        return None
    target = os.path.normpath(os.path.abspath(path))
    with open(meta_info) as handle:
        for number, line in enumerate(handle, 1):
            fields = line.strip().split(' ')
            if fields[0] and os.path.normpath(os.path.abspath(os.path.join(folder or '', fields[0]))) == target:
                return number
    return None


def _describe(path, problem, meta_info, folder):
    line = meta_info_line(meta_info, folder, path)
    where = f' (line {line} of {meta_info})' if line else ''
    return f'{path}{where}: {problem}'


class FileNamingDataset(torch.utils.data.Dataset):
    """Delegates to ``dataset``; a failing item raises :class:`DamagedImageError` naming its damaged file."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getattr__(self, name):
        if name == 'dataset':  # not yet set (unpickling in a worker): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def _files(self, index):
        paths = getattr(self.dataset, 'paths', None) or getattr(self.dataset, 'gt_paths', None)
        if not paths or index >= len(paths):
            return []
        entry = paths[index]
        entries = entry.values() if isinstance(entry, dict) else [entry]
        return [p for p in entries if isinstance(p, str) and p.lower().endswith(IMAGE_EXTENSIONS)]

    def __getitem__(self, index):
        try:
            return self.dataset[index]
        except Exception as error:  # noqa: B902  (any failure: find out whether a file is to blame)
            opt = getattr(self.dataset, 'opt', {}) or {}
            if (opt.get('io_backend') or {}).get('type', 'disk') != 'disk':
                raise
            for path in self._files(index):
                problem = image_problem(path)
                if problem:
                    folder = opt.get('dataroot_gt')
                    raise DamagedImageError(
                        f'datasets.{opt.get("phase", "train")} ({opt.get("name", "")}): cannot read image '
                        + _describe(path, problem, opt.get('meta_info'), folder)
                        + '. Replace or remove the file (and its meta_info line); `python -m sdakd_basicsr.check_data '
                        f'{folder or os.path.dirname(path)}` lists every damaged image of the folder.') from error
            raise


def check_image_folder(folder, meta_info=None):
    """Every image of ``folder`` (or every file ``meta_info`` lists) that is missing, empty or undecodable.

    Args:
        folder (str): Folder of images (searched recursively when no ``meta_info`` is given).
        meta_info (str, optional): BasicSR meta_info file: one image path relative to ``folder`` per line (the
            first word of the line).

    Returns:
        list[str]: One line per problem, naming the file (and its line in ``meta_info``); empty when all is well.
    """
    if not os.path.isdir(folder):
        return [f'{folder}: not a folder']
    if meta_info:
        if not os.path.isfile(meta_info):
            return [f'{meta_info}: meta_info file not found']
        with open(meta_info) as handle:
            listed = [(n, line.strip().split(' ')[0]) for n, line in enumerate(handle, 1) if line.strip()]
        problems = []
        for number, name in listed:
            problem = image_problem(os.path.join(folder, name))
            if problem:
                problems.append(f'{os.path.join(folder, name)} (line {number} of {meta_info}): {problem}')
        return problems
    problems = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith('.'):
                problem = image_problem(os.path.join(root, name))
                if problem:
                    problems.append(f'{os.path.join(root, name)}: {problem}')
    return problems
