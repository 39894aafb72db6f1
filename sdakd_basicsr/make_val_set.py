"""Make the paired validation set of the Real-ESRGAN option files: ``python -m sdakd_basicsr.make_val_set``.

Each HR image of a folder is degraded once, from a fixed seed, with the option file's own second-order
degradation, exactly as the evaluation degrades its inputs (:func:`sdakd_basicsr.metrics.eval_data.
degrade_realesrgan_once`); the (GT, LQ) pairs land in ``<out>/gt`` and ``<out>/lq``, which is where the
full-scale option files' ``datasets.val`` reads them (``datasets/val``). A few images are enough: validation runs
the student on every one of them at each ``val_freq``.

Example:
    python -m sdakd_basicsr.make_val_set --hr my_photos/val_hr --opt options/sdakd_realesrgan_x4plus.yml
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import yaml

#: where the full-scale Real-ESRGAN option files read their validation pairs
DEFAULT_OUT = os.path.join('datasets', 'val')
DEFAULT_OPT = os.path.join('options', 'sdakd_realesrgan_x4plus.yml')


def command_for(opt_file, out=DEFAULT_OUT):
    """The command line that makes the validation set ``out`` for ``opt_file`` (quoted in error messages)."""
    out_arg = '' if os.path.normpath(out) == DEFAULT_OUT else f' --out {out}'
    return f'python -m sdakd_basicsr.make_val_set --hr FOLDER_OF_HR_IMAGES --opt {opt_file}{out_arg}'


def make_val_set(hr_dir, opt, out=DEFAULT_OUT, seed=0):
    """Degrade every image of ``hr_dir`` once and write the pairs to ``out/gt`` and ``out/lq``.

    Args:
        hr_dir (str): Folder of HR images.
        opt (dict): Option dict whose Real-ESRGAN degradation settings are used.
        out (str): Output folder; ``gt``, ``lq`` and ``manifest.json`` are written in it.
        seed (int): Degradation seed (the evaluation's default is 0).

    Returns:
        tuple[str, str]: The GT and LQ folders.
    """
    from sdakd_basicsr.data.realesrgan_eval_data import degrade_realesrgan_once
    out_gt, out_lq = os.path.join(out, 'gt'), os.path.join(out, 'lq')
    for folder in (out_gt, out_lq):
        if os.path.isdir(folder) and os.listdir(folder):
            raise FileExistsError(f'{folder} is not empty; remove it or choose another --out')
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as work:  # same file system: the moves below are renames
        made_gt, made_lq = degrade_realesrgan_once(opt, hr_dir, work, seed=seed, name='val')
        for made, final in ((made_gt, out_gt), (made_lq, out_lq)):
            if os.path.isdir(final):
                os.rmdir(final)
            shutil.move(made, final)
        shutil.move(os.path.join(os.path.dirname(made_gt), 'manifest.json'), os.path.join(out, 'manifest.json'))
    return out_gt, out_lq


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hr', required=True, help='folder of HR images (a few distinct photos)')
    parser.add_argument('--opt', default=DEFAULT_OPT, help='option file whose degradation is used')
    parser.add_argument('--out', default=DEFAULT_OUT, help='output folder (gt/, lq/)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    import sdakd_basicsr  # noqa: F401  (registers the dataset classes the degradation reads its kernels with)
    from basicsr.utils.options import ordered_yaml
    with open(args.opt) as handle:
        opt = yaml.load(handle, Loader=ordered_yaml()[0])
    out_gt, out_lq = make_val_set(args.hr, opt, args.out, args.seed)
    with open(os.path.join(args.out, 'manifest.json')) as handle:
        count = len(json.load(handle)['images'])
    print(f'{count} validation pairs (seed {args.seed}, degradation of {args.opt}): {out_gt}, {out_lq}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
