"""Super-resolve images with a trained SDAKD student: ``python -m sdakd_basicsr.inference``.

Real-ESRGAN students upscale whole images, tile by tile for large ones. GCFSR students restore faces: in
ordinary photos (found by facexlib's detector, aligned, super-resolved and pasted back into the upscaled photo)
or in already aligned face crops (``--face-mode aligned``).

The model is a training checkpoint with its option file, an export (``.pth`` or ``.onnx`` with the ``.yml``
card beside it, from ``scripts/export_student.py``).

Examples:
    python -m sdakd_basicsr.inference -i photos/ -o results/ \\
        --model experiments/sdakd_realesrgan_x4plus/models/net_g_400000.pth --opt options/sdakd_realesrgan_x4plus.yml
    python -m sdakd_basicsr.inference -i frame.png -o results/ --model exported/x4plus_w0.5.pth --tile 192
    python -m sdakd_basicsr.inference -i group.jpg -o results/ --model exported/gcfsr_w0.5.pth --outscale 2 \\
        --face-model-dir experiments/pretrained_models/facexlib
"""
import argparse
import os
import sys

import cv2
import numpy as np
import torch
from tqdm import tqdm

from sdakd_basicsr.deploy.backends import BACKENDS
from sdakd_basicsr.deploy.faces import DEFAULT_FACTOR_RANGE
from sdakd_basicsr.deploy.runner import (DEFAULT_OVERLAP, DEFAULT_PRE_PAD, DEFAULT_TILE, StudentRunner, default_backend,
                                         image_to_tensor, tensor_to_image)
from sdakd_basicsr.utils.cli_args import check_range, check_tiling, non_negative_int, positive_float, positive_int

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='python -m sdakd_basicsr.inference', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('-i', '--input', required=True, help='an image file or a folder of images')
    parser.add_argument('-o', '--output', required=True, help='output folder (created)')
    parser.add_argument('--model', required=True,
                        help='student: experiments/<name>/models/net_g_<iter>.pth (with --opt), or an exported '
                             '.pth / .onnx with its .yml card beside it')
    parser.add_argument('--opt', default=None, help='training option file of a training checkpoint')
    parser.add_argument('--param-key', default='params_ema', choices=['params_ema', 'params'],
                        help='weights of a training checkpoint: EMA (default) or the raw generator')
    parser.add_argument('--suffix', default='out', help='output name: <input stem>_<suffix>.png ("" for none)')
    parser.add_argument('--ext', default='png', choices=['png', 'jpg', 'webp'], help='output format')

    run = parser.add_argument_group('runtime')
    run.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    run.add_argument('--backend', default=None, choices=BACKENDS,
                     help=f'default: {default_backend("cpu")} on a CPU, eager on a GPU (see docs/benchmarks.md); '
                          'onnxruntime with a .onnx model')
    run.add_argument('--fp32', action='store_true', help='on a GPU, run fp32 instead of fp16')
    run.add_argument('--threads', type=positive_int, default=None, help='CPU threads (torch and onnxruntime)')
    run.add_argument('--tile', type=non_negative_int, default=DEFAULT_TILE,
                     help=f'tile size in input pixels for large images (default {DEFAULT_TILE}; 0 = whole image)')
    run.add_argument('--tile-overlap', type=non_negative_int, default=DEFAULT_OVERLAP,
                     help=f'input pixels shared by neighbouring tiles, blended (default {DEFAULT_OVERLAP})')
    run.add_argument('--pre-pad', type=non_negative_int, default=DEFAULT_PRE_PAD,
                     help='input pixels mirrored outwards at the image border before the student and cropped '
                          f'from its output, so no border meets zero padding (default {DEFAULT_PRE_PAD}; 0 = off)')

    faces = parser.add_argument_group('GCFSR students (faces)')
    faces.add_argument('--face-mode', default='photo', choices=['photo', 'aligned'],
                       help='photo: detect, align, restore and paste back faces; aligned: inputs are aligned '
                            'face crops')
    faces.add_argument('--outscale', type=positive_float, default=2,
                       help='photo mode: upscaling factor of the whole photo')
    faces.add_argument('--factor', type=positive_float, default=None,
                       help='factor condition (GCFSR in_size · cond_norm); default: from the face size')
    faces.add_argument('--factor-range', type=positive_float, nargs=2, default=list(DEFAULT_FACTOR_RANGE),
                       help='clip the estimated factor to this range (default: GCFSR\'s training factors 4 32)')
    faces.add_argument('--face-model-dir', default='experiments/pretrained_models/facexlib',
                       help='folder with facexlib\'s detection_Resnet50_Final.pth and parsing_parsenet.pth')
    faces.add_argument('--det-model', default='retinaface_resnet50',
                       choices=['retinaface_resnet50', 'retinaface_mobile0.25'])
    args = parser.parse_args(argv)
    check_tiling(parser, args.tile, args.tile_overlap)
    check_range(parser, *args.factor_range, '--factor-range')
    return args


def list_images(path):
    """Image files under ``path`` (a file or a folder, not recursive), sorted."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f'--input {path!r} is neither a file nor a folder')
    files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise FileNotFoundError(f'--input folder {path!r} holds no images ({", ".join(IMAGE_EXTENSIONS)})')
    return files


def read_image(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'cannot read image {path!r}')
    return img


def load_runner(args):
    """The student and its runtime from the command-line options."""
    from sdakd_basicsr.deploy.student import find_spec, load_student
    device = torch.device(args.device)
    half = device.type == 'cuda' and not args.fp32
    common = dict(device=device, half=half, tile=args.tile, overlap=args.tile_overlap, threads=args.threads,
                  pre_pad=args.pre_pad)
    if args.model.endswith('.onnx'):
        if args.backend not in (None, 'onnxruntime'):
            raise ValueError(f'--model {args.model} is an ONNX file: it runs with --backend onnxruntime only')
        spec = find_spec(args.model)
        net = spec.build().eval()  # the card's architecture: only for input names and families, no weights used
        return StudentRunner(net, spec, backend='onnxruntime', onnx_path=args.model, **common)
    net, spec = load_student(args.model, args.opt, args.param_key)
    return StudentRunner(net, spec, backend=args.backend, **common)


def _split_alpha(img):
    if img.ndim == 3 and img.shape[2] == 4:
        return img[:, :, :3], img[:, :, 3]
    return img, None


def upscale_image(runner, img):
    """Real-ESRGAN family: the whole image, tiled; an alpha channel is resized bicubically."""
    colour, alpha = _split_alpha(img)
    out = tensor_to_image(runner.upscale(image_to_tensor(colour)), img.dtype if img.dtype == np.uint16 else np.uint8)
    if alpha is not None:
        alpha = cv2.resize(alpha, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_CUBIC)
        out = np.concatenate([out, alpha[:, :, None]], axis=2)
    return out


def _as_bgr_uint8(img):
    """Face paths work on 8-bit BGR: drop alpha, reduce 16-bit, grey -> BGR."""
    colour, _ = _split_alpha(img)
    if colour.dtype == np.uint16:
        colour = (colour / 257).round().astype(np.uint8)
    return cv2.cvtColor(colour, cv2.COLOR_GRAY2BGR) if colour.ndim == 2 else colour


def restore_aligned_face(runner, img, factor=None):
    """GCFSR: an aligned face crop of any size -> the restored face at the student's out_size."""
    size = runner.spec.network_g['out_size']
    colour = _as_bgr_uint8(img)
    factor = factor or max(size / colour.shape[0], size / colour.shape[1])
    face = cv2.resize(colour, (size, size), interpolation=cv2.INTER_CUBIC)
    return tensor_to_image(runner.restore_face(image_to_tensor(face), factor))


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    files = list_images(args.input)
    runner = load_runner(args)
    face_restorer = None
    if runner.spec.scale is None and args.face_mode == 'photo':
        from sdakd_basicsr.deploy.faces import FacePhotoRestorer, build_face_helper
        helper = build_face_helper(args.outscale, face_size=runner.spec.network_g['out_size'],
                                   model_dir=args.face_model_dir, det_model=args.det_model, device=args.device)
        face_restorer = FacePhotoRestorer(helper, runner, factor_range=tuple(args.factor_range), factor=args.factor)
    os.makedirs(args.output, exist_ok=True)
    bar = tqdm(files, unit='img', desc=f'{runner.spec.family} student ({runner.backend_name})')
    for path in bar:
        img = read_image(path)
        if runner.spec.scale is not None:
            out = upscale_image(runner, img)
        elif face_restorer is not None:
            out, num_faces = face_restorer(_as_bgr_uint8(img))
            bar.set_postfix(faces=num_faces)
        else:
            out = restore_aligned_face(runner, img, args.factor)
        stem = os.path.splitext(os.path.basename(path))[0]
        name = f'{stem}_{args.suffix}.{args.ext}' if args.suffix else f'{stem}.{args.ext}'
        cv2.imwrite(os.path.join(args.output, name), out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
