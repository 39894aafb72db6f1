"""Write an option file that distils a teacher on your own photos: ``python -m sdakd_basicsr.new_experiment``.

The full-scale option file (``--base``) is loaded as a dict, edited and written back: the teacher's weights, the
training data prepared by ``python -m sdakd_basicsr.prepare_data``, the student width, the number of GPUs and
the length of the run (stage lengths, learning-rate milestones and checkpoint/validation intervals scaled to it).
Every other setting, the degradation included, stays the base file's.

Example:
    python -m sdakd_basicsr.new_experiment --teacher experiments/pretrained_models/RealESRGAN_x4plus.pth \\
        --data datasets/my_photos --width 0.5 --gpus 2 --iters 100000 --out options/my_photos.yml
"""
import argparse
import os
import sys

import yaml

DEFAULT_BASE = os.path.join('options', 'sdakd_realesrgan_x4plus.yml')


def _scale_stages(stages, total):
    """Stage lengths in the base file's proportions, summing to ``total`` (every stage at least 1 iteration)."""
    old_total = sum(int(stage['iters']) for stage in stages)
    if total < len(stages):
        raise ValueError(f'--iters {total} is shorter than the {len(stages)} stages of the base file')
    lengths = [max(1, round(int(stage['iters']) * total / old_total)) for stage in stages[:-1]]
    lengths.append(total - sum(lengths))
    if lengths[-1] < 1:
        raise ValueError(f'--iters {total} leaves no iteration for the last stage')
    return [dict(stage, iters=length) for stage, length in zip(stages, lengths)]


def own_photos_options(base, teacher, data, width=0.5, gpus=1, iters=None, name=None, val=None, lmdb=False):
    """The option dict of a distillation run on prepared photos.

    Args:
        base (dict): A full-scale SDAKD option dict (loaded as it is).
        teacher (str): The teacher generator's weights (``path.pretrain_network_g_teacher``).
        data (str): A folder written by ``python -m sdakd_basicsr.prepare_data`` (``sub/``, ``meta_info.txt``
            and, with ``lmdb``, ``sub.lmdb``).
        width (float): Student width as a fraction of the teacher's (``sdakd.width``).
        gpus (int): GPUs of the run (0 = CPU); more than one are used through torchrun, one process each.
        iters (int | None): Total iterations. Default: the base file's.
        name (str | None): Experiment name. Default: ``sdakd_<data folder>_w<width>``.
        val (str | None): Folder with ``gt/`` and ``lq/`` (``python -m sdakd_basicsr.make_val_set``); ``'none'``
            drops validation. Default: the base file's.
        lmdb (bool): Read the sub-images from ``<data>/sub.lmdb``.

    Returns:
        dict: The edited copy of ``base``.
    """
    import copy
    opt = copy.deepcopy(base)
    opt['name'] = name or f'sdakd_{os.path.basename(os.path.normpath(data))}_w{width:g}'
    opt['num_gpu'] = gpus
    opt.setdefault('sdakd', {})['width'] = width
    opt['path']['pretrain_network_g_teacher'] = teacher
    train_set = opt['datasets']['train']
    train_set['name'] = os.path.basename(os.path.normpath(data))
    if lmdb:
        train_set.update(dataroot_gt=os.path.join(data, 'sub.lmdb'), io_backend={'type': 'lmdb'})
        train_set.pop('meta_info', None)  # the LMDB carries its own list
    else:
        train_set.update(dataroot_gt=os.path.join(data, 'sub'), meta_info=os.path.join(data, 'meta_info.txt'),
                         io_backend={'type': 'disk'})
    if val == 'none':
        opt['datasets'].pop('val', None)
        opt.pop('val', None)
    elif val:
        opt['datasets']['val'].update(dataroot_gt=os.path.join(val, 'gt'), dataroot_lq=os.path.join(val, 'lq'))
    if iters:
        train_opt = opt['train']
        old_total = int(train_opt['total_iter'])
        train_opt['total_iter'] = iters
        train_opt['stages'] = _scale_stages(train_opt['stages'], iters)
        scheduler = train_opt.get('scheduler') or {}
        if 'milestones' in scheduler:
            scheduler['milestones'] = [max(1, round(int(m) * iters / old_total)) for m in scheduler['milestones']]
        for section, key in (('val', 'val_freq'), ('logger', 'save_checkpoint_freq'), ('logger', 'print_freq')):
            if key in (opt.get(section) or {}):
                opt[section][key] = min(int(opt[section][key]), iters)
    return opt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--teacher', required=True, help="the teacher generator's weights (.pth)")
    parser.add_argument('--data', required=True, help='folder written by python -m sdakd_basicsr.prepare_data')
    parser.add_argument('--out', required=True, help='the option file to write')
    parser.add_argument('--base', default=DEFAULT_BASE, help='full-scale option file to start from')
    parser.add_argument('--width', type=float, default=0.5, help='student width / teacher width')
    parser.add_argument('--gpus', type=int, default=1, help='GPUs (0 = CPU; >1: start with torchrun)')
    parser.add_argument('--iters', type=int, default=None, help="total iterations (default: the base file's)")
    parser.add_argument('--name', default=None, help='experiment name (folder under experiments/)')
    parser.add_argument('--val', default=None,
                        help="validation folder with gt/ and lq/ (python -m sdakd_basicsr.make_val_set), or 'none'")
    parser.add_argument('--lmdb', action='store_true', help='read the training sub-images from <data>/sub.lmdb')
    args = parser.parse_args(argv)
    from basicsr.utils.options import ordered_yaml
    loader, dumper = ordered_yaml()
    with open(args.base) as handle:
        base = yaml.load(handle, Loader=loader)
    opt = own_photos_options(base, args.teacher, args.data, args.width, args.gpus, args.iters, args.name,
                             args.val, args.lmdb)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as handle:
        handle.write(f'# Written by python -m sdakd_basicsr.new_experiment from {args.base} (its comments explain '
                     'every setting).\n')
        yaml.dump(opt, handle, Dumper=dumper, default_flow_style=None, sort_keys=False, width=120)
    if args.gpus > 1:
        command = f'torchrun --nproc_per_node={args.gpus} -m basicsr.train -opt {args.out} --launcher pytorch'
    else:
        command = f'python -m basicsr.train -opt {args.out}'
    print(f'wrote {args.out} ({opt["name"]}); train with:\n  {command} --auto_resume')
    for path in (args.teacher, ):
        if not os.path.isfile(path):
            print(f'note: the teacher {path} does not exist yet (see docs/weights.md)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
