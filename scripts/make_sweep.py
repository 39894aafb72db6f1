"""Write option files for methods x widths x seeds of one SDAKD option file and print the training commands.

Every file is ``scripts/make_option_variants.py``'s :func:`make_variant` of the source file, so all methods share
the source's data, losses and budget. The commands come one per line, to paste into any scheduler:

    python scripts/make_sweep.py -opt options/demo/sdakd_realesrgan_x4plus_demo.yml \\
        --methods sdakd no_kd teacher_d_scratch omgd --widths 0.125 --seeds 0 1 2 --total-iter 120 \\
        --launcher "flock /work/cpu.lock" > commands.txt

Experiments are named ``<sweep>_<method>_w<width>_s<seed>``; ``scripts/make_tables.py`` averages over the
``_s<seed>`` suffix. A ``sweep.json`` next to the option files lists them.
"""
import argparse
import json
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_option_variants import METHODS, REPO, make_variant, replace_once  # noqa: E402

DEFAULT_METHODS = ('sdakd', 'no_kd', 'teacher_d_scratch', 'omgd')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', required=True, help='source SDAKD option file (three-stage schedule)')
    parser.add_argument('--methods', nargs='+', default=list(DEFAULT_METHODS), choices=sorted(METHODS),
                        help='methods to run (default: %(default)s)')
    parser.add_argument('--widths', nargs='+', type=float, default=None,
                        help="student widths (default: the source's sdakd.width)")
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], help='manual_seed values (default: 0 1 2)')
    parser.add_argument('--total-iter', type=int, default=None,
                        help="iterations per run, stage proportions kept (default: the source's budget)")
    parser.add_argument('--batch-size', type=int, default=None,
                        help="datasets.train.batch_size_per_gpu (default: the source's)")
    parser.add_argument('--name', default=None, help="sweep name (default: the source's experiment name)")
    parser.add_argument('--out', default=None, help='folder for the option files (default: options/sweeps/<name>)')
    parser.add_argument('--launcher', default='', help='prefix of every command, e.g. "flock /work/cpu.lock"')
    return parser.parse_args(argv)


def set_batch_size(text, batch_size):
    """``datasets.train.batch_size_per_gpu`` (the first one in the file, which is the training set's)."""
    return replace_once(text, r'^    batch_size_per_gpu: \d+.*$', f'    batch_size_per_gpu: {batch_size}',
                        'datasets.train.batch_size_per_gpu')


def width_tag(width):
    return f'w{width:g}'


def make_sweep(source, methods, widths, seeds, total_iter=None, name=None, out=None, batch_size=None):
    """Write the option files; return the list of experiments (dicts with name, method, width, seed, option)."""
    text = open(source).read()
    opt = yaml.safe_load(text)
    if opt.get('model_type') != 'SDAKDModel':
        raise ValueError(f'{source}: model_type is {opt.get("model_type")!r}; the sweep varies SDAKDModel files')
    name = name or opt['name']
    out = out or os.path.join(REPO, 'options', 'sweeps', name)
    widths = widths or [opt.get('sdakd', {}).get('width', 0.5)]
    os.makedirs(out, exist_ok=True)
    rel_source = os.path.relpath(os.path.abspath(source), REPO)
    if batch_size is not None:
        text = set_batch_size(text, batch_size)
    experiments = []
    # seed-major order: a sweep cut short still has every method at the first seeds
    for seed in seeds:
        for method in methods:
            for width in widths:
                exp_name = f'{name}_{method}_{width_tag(width)}_s{seed}'
                variant = make_variant(text, method, exp_name, rel_source, width=width, seed=seed,
                                       total_iter=total_iter)
                path = os.path.join(out, f'{exp_name}.yml')
                with open(path, 'w') as handle:
                    handle.write(variant)
                experiments.append(dict(name=exp_name, method=method, width=width, seed=seed,
                                        option=os.path.relpath(path, REPO)))
    with open(os.path.join(out, 'sweep.json'), 'w') as handle:
        json.dump(dict(source=rel_source, total_iter=total_iter, batch_size=batch_size, experiments=experiments),
                  handle, indent=2)
    return experiments


def main(argv=None):
    args = parse_args(argv)
    experiments = make_sweep(args.opt, args.methods, args.widths, args.seeds, args.total_iter, args.name, args.out,
                             args.batch_size)
    prefix = f'{args.launcher} ' if args.launcher else ''
    for exp in experiments:
        print(f'{prefix}python -m basicsr.train -opt {exp["option"]}')
    print(f'# {len(experiments)} runs (run them from {REPO}); option files and sweep.json in '
          f'{os.path.dirname(experiments[0]["option"])}',
          file=sys.stderr)
    return experiments


if __name__ == '__main__':
    main()
