"""Tiled super-resolution of large images: overlapping tiles of one size, blended with linear ramps.

Every tile has the same shape (edge tiles are shifted inwards, not cut), so compiled or ONNX backends see one
input shape. Where tiles overlap, each output pixel is a weighted mean of the tiles covering it; a tile's weight
falls linearly towards its borders, where the network saw the least context, so tile edges leave no seam.
"""
import torch
from torch.nn import functional as F


def reflect_pre_padded(fn, image, pad):
    """``fn(image)`` computed on the image mirrored outwards by ``pad`` pixels on each side, cropped back.

    A generator that zero-pads its convolutions sees black beyond the image border; a student that has not yet
    learnt to compensate for it leaves a dark frame on its output. Mirrored content in place of the zeros removes
    that frame; the output is cropped back to the image's own pixels (``pad`` times the upscaling factor).

    Args:
        fn (callable): Maps a (N, C, h, w) image to (N, C', h·s, w·s) for an integer factor s.
        image (Tensor): (N, C, H, W).
        pad (int): Mirrored pixels on each side (at most H - 1 and W - 1 are used); 0 = ``fn(image)``.
    """
    height, width = image.shape[-2:]
    pad = min(pad, height - 1, width - 1)
    if pad <= 0:
        return fn(image)
    out = fn(F.pad(image, (pad, pad, pad, pad), mode='reflect'))
    scale = out.shape[-1] // (width + 2 * pad)
    return out[..., pad * scale:(pad + height) * scale, pad * scale:(pad + width) * scale]


def tile_starts(length, tile, overlap):
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap`` shared pixels."""
    if length <= tile:
        return [0]
    if not 0 <= overlap < tile:
        raise ValueError(f'tile overlap {overlap} must be in [0, tile size {tile}); lower --tile-overlap.')
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def _ramp(length, overlap, device):
    """1-D weights: 1 in the middle, falling linearly to 1/(overlap+1) at both ends over ``overlap`` pixels."""
    pos = torch.arange(length, device=device, dtype=torch.float32)
    dist = torch.minimum(pos, length - 1 - pos)
    return ((dist + 1) / (overlap + 1)).clamp(max=1.0)


def tiled_forward(fn, image, scale, tile=256, overlap=16):
    """``fn(image)`` computed tile by tile.

    Args:
        fn (callable): Maps a (1, C, t, t) tile to (1, C', t·scale, t·scale).
        image (Tensor): (1, C, H, W).
        scale (int): Upscaling factor of ``fn``.
        tile (int): Tile size in input pixels; 0 or an image no larger than one tile: a single call.
        overlap (int): Input pixels shared by neighbouring tiles (blended).

    Returns:
        Tensor: (1, C', H·scale, W·scale), float32 on the device of ``fn``'s output (a CUDA backend fed CPU
        tiles returns CUDA tensors; the accumulators follow the output, not the input).
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f'tiled_forward takes one image (1, C, H, W), got {tuple(image.shape)}')
    _, _, height, width = image.shape
    if not tile or (height <= tile and width <= tile):
        return fn(image).float()
    tile_h, tile_w = min(tile, height), min(tile, width)
    out, weight = None, None
    for top in tile_starts(height, tile_h, overlap):
        for left in tile_starts(width, tile_w, overlap):
            result = fn(image[:, :, top:top + tile_h, left:left + tile_w]).float()
            if out is None:
                # accumulate in float32 where the backend puts its results (fp16 sums of ramps would drift)
                out = result.new_zeros((1, result.shape[1], height * scale, width * scale))
                weight = result.new_zeros((1, 1, height * scale, width * scale))
                ramp = (_ramp(tile_h * scale, overlap * scale, result.device)[:, None] *
                        _ramp(tile_w * scale, overlap * scale, result.device)[None, :])
            rows = slice(top * scale, (top + tile_h) * scale)
            cols = slice(left * scale, (left + tile_w) * scale)
            out[:, :, rows, cols] += result * ramp
            weight[:, :, rows, cols] += ramp
    return out / weight


def count_tiles(height, width, tile, overlap):
    """How many tiles :func:`tiled_forward` runs for an image of ``height`` × ``width``."""
    if not tile or (height <= tile and width <= tile):
        return 1
    return len(tile_starts(height, min(tile, height), overlap)) * len(tile_starts(width, min(tile, width), overlap))
