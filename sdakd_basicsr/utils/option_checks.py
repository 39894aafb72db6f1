"""Checks of a training option dict that catch a newcomer's usual mistakes before anything is built.

BasicSR reports these late and from deep inside: a missing data folder surfaces as
``UnboundLocalError: ... 'img_bytes'`` from the first batch, ``num_gpu: 1`` without a GPU as "Found no NVIDIA
driver" when the first network moves to CUDA. Each check here raises one error that names the option, the
value and the fix.
"""
import os
import sys

import torch

from sdakd_basicsr.utils.checkpoint import check_keep_options

#: dataset keys holding a folder (disk backend) or an LMDB folder
FOLDER_KEYS = ('dataroot_gt', 'dataroot_lq', 'dataroot')
#: dataset keys holding one file
FILE_KEYS = ('meta_info', 'meta_info_file')
DEMO_HINT = ' For the demo data: python datasets/make_demo_data.py --out datasets/demo.'


class OptionError(ValueError):
    """An option that cannot work; the message names the option and how to fix it."""


def _where(path):
    if os.path.isabs(path):
        return repr(path)
    return f'{path!r} (relative to the working directory {os.getcwd()})'


def _val_set_hint(opt, phase, dataset_opt):
    """For a Real-ESRGAN paired validation set laid out as ``X/gt`` + ``X/lq``: the command that makes it."""
    gt, lq = dataset_opt.get('dataroot_gt'), dataset_opt.get('dataroot_lq')
    if not (phase.startswith('val') and isinstance(gt, str) and isinstance(lq, str) and 'resize_prob' in opt):
        return ''
    parent = os.path.dirname(os.path.normpath(gt))
    if os.path.normpath(gt) != os.path.join(parent, 'gt') or os.path.normpath(lq) != os.path.join(parent, 'lq'):
        return ''
    from sdakd_basicsr.make_val_set import command_for
    return (' To make it from a few HR images, degraded once as the evaluation does: '
            f'{command_for(_option_file_on_command_line(), parent)}')


def check_dataset_paths(opt):
    """Every data folder and meta-info file named in ``opt['datasets']`` exists.

    Raises:
        OptionError: naming ``datasets.<phase>.<key>``, the path and where it was looked for.
    """
    for phase, dataset_opt in (opt.get('datasets') or {}).items():
        if not isinstance(dataset_opt, dict):
            continue
        backend = (dataset_opt.get('io_backend') or {}).get('type', 'disk')
        if backend not in ('disk', 'lmdb'):
            continue  # memcached and other backends resolve their own paths
        hint = DEMO_HINT if 'datasets/demo' in str(dataset_opt) else _val_set_hint(opt, phase, dataset_opt)
        for key in FOLDER_KEYS:
            path = dataset_opt.get(key)
            if isinstance(path, str) and not os.path.isdir(path):
                kind = 'LMDB folder' if backend == 'lmdb' else 'image folder'
                raise OptionError(f'datasets.{phase}.{key}: the {kind} {_where(path)} does not exist. Create it or '
                                  f'set datasets.{phase}.{key} to the folder that holds your images.{hint}')
        for key in FILE_KEYS:
            path = dataset_opt.get(key)
            if isinstance(path, str) and not os.path.isfile(path):
                raise OptionError(f'datasets.{phase}.{key}: the file {_where(path)} does not exist. Point '
                                  f'datasets.{phase}.{key} to the list of training images (one name per line), '
                                  f'or remove the option where the dataset does not need one.{hint}')


def check_devices(opt):
    """``num_gpu`` asks for no more GPUs than torch can use.

    Raises:
        OptionError: naming ``num_gpu`` and what to set instead.
    """
    num_gpu = opt.get('num_gpu', 0)
    if num_gpu in (0, None, 'auto'):
        return
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not isinstance(num_gpu, int) or num_gpu < 0:
        raise OptionError(f'num_gpu={num_gpu!r}: use 0 (CPU), a number of GPUs, or auto')
    if available == 0:
        built = f'CUDA {torch.version.cuda}' if torch.version.cuda else 'no CUDA support'
        raise OptionError(f'num_gpu={num_gpu}, but torch finds no GPU (torch {torch.__version__}, built with '
                          f'{built}). Set num_gpu: 0 to train on the CPU, or num_gpu: auto to use whatever GPUs '
                          'there are (add --force_yml num_gpu=0 to the command line to keep the option file).')
    if num_gpu > available:
        raise OptionError(f'num_gpu={num_gpu}, but torch finds only {available} GPU(s). Set num_gpu: {available} '
                          'or num_gpu: auto.')


def _option_file_on_command_line(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if '-opt' in argv[:-1]:
        return argv[argv.index('-opt') + 1]
    return 'options/<your file>.yml'


def check_one_gpu_per_process(opt, argv=None):
    """A run without a launcher uses at most one GPU.

    With ``num_gpu`` > 1 and ``--launcher none`` BasicSR wraps every network in ``DataParallel``, which this
    method cannot train: the training-pair queue must hold a whole number of global batches and the feature
    taps on the student would see only one replica's shard, so the first distillation iteration would fail,
    after the whole supervised stage. One process per GPU (torchrun) is the supported way.

    Raises:
        OptionError: naming ``num_gpu`` and giving the torchrun command for the option file on the command line.
    """
    num_gpu = opt.get('num_gpu', 0)
    if num_gpu == 'auto':  # parse_options resolves it, but callers may pass the raw option file
        num_gpu = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if opt.get('dist') or not isinstance(num_gpu, int) or num_gpu <= 1:
        return
    option_file = _option_file_on_command_line(argv)
    raise OptionError(
        f'num_gpu={num_gpu} in one process: BasicSR would wrap the networks in DataParallel, which SDAKD training '
        f'does not support. Start one process per GPU:\n'
        f'  torchrun --nproc_per_node={num_gpu} -m basicsr.train -opt {option_file} --launcher pytorch\n'
        f'or train on one GPU: set num_gpu: 1 (or add --force_yml num_gpu=1 to the command line).')


def check_training_options(opt):
    """All checks above, for a training run; called before datasets and networks are built."""
    check_devices(opt)
    check_one_gpu_per_process(opt)
    check_dataset_paths(opt)
    check_keep_options(opt)
