"""Cost of Real-ESRGAN's second-order degradation per training batch: whole tiles against ``degrade_crop_size``.

Builds the option file's ``RealESRGANDataset`` batches (real tiles, real kernels), then times the pair
synthesis of the training loop on one fixed batch, once degrading the whole tiles (Real-ESRGAN's way) and once
for each crop size asked for, in interleaved rounds.

    python -m sdakd_basicsr.benchmarks.degradation -opt options/demo/sdakd_realesrgan_x4plus_demo.yml --threads 2
    python -m sdakd_basicsr.benchmarks.degradation -opt options/demo/sdakd_realesrgan_x4plus_demo.yml --crops 128 192
"""
import argparse
import random
import statistics

import numpy as np
import torch

from sdakd_basicsr.utils.options import load_options
from sdakd_basicsr.utils.profiling import interleaved_times, markdown_table, run_benchmark


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('-opt', required=True, help='a Real-ESRGAN option file (datasets.train: RealESRGANDataset)')
    parser.add_argument('--crops', type=int, nargs='*', default=None,
                        help='degrade_crop_size values to time (default: the smallest the options allow)')
    parser.add_argument('--repeats', type=int, default=9, help='timed rounds (median reported)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: torch\'s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--json', default=None, metavar='OUT.json', help='also write the result to this file')
    return parser.parse_args(argv)


def first_batch(opt):
    """One training batch of the option file's ``datasets.train`` (tiles and kernels), seeded."""
    import sdakd_basicsr  # noqa: F401  (the torchvision fix before basicsr's datasets)
    from basicsr.data import build_dataset
    train = dict(opt['datasets']['train'], phase='train', scale=opt['scale'])
    dataset = build_dataset(train)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    items = [dataset[i % len(dataset)] for i in range(train['batch_size_per_gpu'])]
    return {key: torch.stack([item[key] for item in items]) for key in ('gt', 'kernel1', 'kernel2', 'sinc_kernel')}


def benchmark(args):
    from sdakd_basicsr.data.realesrgan_synthesis import RealESRGANPairSynthesizer, smallest_degrade_crop
    opt = load_options(args.opt)
    device = torch.device(args.device)
    batch = first_batch(opt)
    crops = args.crops or [smallest_degrade_crop(opt)]
    synths = {'whole tiles': RealESRGANPairSynthesizer(dict(opt, degrade_crop_size=None), device)}
    for size in crops:
        synths[f'degrade_crop_size {size}'] = RealESRGANPairSynthesizer(dict(opt, degrade_crop_size=size), device)
    fns = {name: (lambda synth=synth: synth(batch)) for name, synth in synths.items()}
    times, errors = interleaved_times(fns, repeats=args.repeats, warmup=args.warmup, device=device)
    whole = statistics.median(times['whole tiles'])
    rows = [{'setting': name, 'median_s': statistics.median(t), 'ratio': statistics.median(t) / whole}
            for name, t in times.items()]
    return {'option_file': args.opt, 'batch': tuple(batch['gt'].shape), 'gt_size': opt['gt_size'], 'rows': rows,
            'errors': errors, 'repeats': args.repeats}


def format_markdown(result):
    lines = [f"`{result['option_file']}`: batch of {result['batch'][0]} tiles of {result['batch'][2]}×"
             f"{result['batch'][3]} px, GT patch {result['gt_size']} px, median of {result['repeats']} "
             'interleaved rounds.', '',
             markdown_table(['Degradation', 'median s / batch', '× whole tiles'],
                            [[r['setting'], f"{r['median_s']:.3f}", f"{r['ratio']:.2f}"] for r in result['rows']])]
    lines += [f'{name}: failed ({error})' for name, error in result['errors'].items()]
    return '\n'.join(lines)


def main(argv=None):
    """Measure, print markdown, optionally write JSON; returns the results."""
    return run_benchmark('Real-ESRGAN degradation per batch', parse_args(argv), benchmark, format_markdown)


if __name__ == '__main__':
    main()
