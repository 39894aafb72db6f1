"""Distributed training (``torchrun ... -m basicsr.train -opt X --launcher pytorch``) on GPUs and on CPUs.

BasicSR's pytorch launcher assumes GPUs: ``init_dist`` calls ``torch.cuda.set_device`` and always uses NCCL
(``parse_options`` passes ``dist_params`` to the slurm launcher only), and ``BaseModel.model_to_device`` wraps
networks with ``DistributedDataParallel(device_ids=[torch.cuda.current_device()])``. Also, every rank opens a
tensorboard writer, so rank 1 adds its own event file to the experiment's folder, with losses that
``reduce_loss_dict`` did not average (only rank 0 receives the reduction). For runs of this project's models
only, this module supplies:

* :func:`init_dist`, installed as ``basicsr.utils.options.init_dist`` (the name ``parse_options`` calls): for a
  CPU run (no CUDA, or ``num_gpu: 0`` in the option file) it joins the process group with gloo from torchrun's
  environment and leaves CUDA alone; on GPUs it sets the device from ``LOCAL_RANK`` (right on several nodes)
  and honours ``dist_params.backend`` (default nccl). Other models keep BasicSR's own function.
* ``basicsr.train.init_tb_loggers`` that gives ranks other than 0 a writer that writes nothing.
* :class:`DistributedModelMixin`, the CPU-aware ``model_to_device`` of our models.
* :func:`gather_rank_states` / :func:`own_rank_state`: every rank's random state (and other per-rank
  state) saved with rank 0's training state and handed back to the right rank on resume.

:func:`patch_distributed` (called by :func:`sdakd_basicsr.compat.patch_basicsr`) installs the first two. The
rest of BasicSR's distributed path works on CPUs as it is: ``get_dist_info`` and ``master_only`` ask
``torch.distributed``, ``EnlargedSampler`` shards by rank, and validation (``dist_validation``), the log file,
the experiment folders and checkpoint writes are rank 0's.
"""
import argparse
import atexit
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from sdakd_basicsr.compat import runs_our_model

#: the ``init_dist`` that ``basicsr.utils.options`` had before :func:`patch_distributed`
_basicsr_init_dist = None


def _option_file_from_argv(argv=None):
    """The option dict of the ``-opt`` file on the command line (what ``parse_options`` reads), or None."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('-opt')
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if not args.opt or not os.path.isfile(args.opt):
        return None
    from sdakd_basicsr.utils.options import load_options
    return load_options(args.opt)


def runs_on_cpu(opt):
    """Whether a run with options ``opt`` trains on the CPU (BasicSR's rule: ``num_gpu: 0`` or no CUDA)."""
    return not torch.cuda.is_available() or opt.get('num_gpu', 'auto') == 0


def init_dist(launcher, backend='nccl', **kwargs):
    """Replacement of BasicSR's ``init_dist`` that also runs without GPUs (our models only).

    Options read (from the ``-opt`` file of this command line):
        model_type (str): Anything but this project's models goes to BasicSR's own ``init_dist`` unchanged.
        num_gpu (int | 'auto'): 0 means a CPU run even where CUDA exists.
        dist_params.backend (str): Default ``gloo`` for CPU runs, ``nccl`` on GPUs.
    """
    opt = _option_file_from_argv()
    if launcher != 'pytorch' or opt is None or not runs_our_model(opt):
        return _basicsr_init_dist(launcher, backend, **kwargs)
    on_cpu = runs_on_cpu(opt)
    backend = (opt.get('dist_params') or {}).get('backend') or ('gloo' if on_cpu else 'nccl')
    if on_cpu and backend == 'nccl':
        if not torch.cuda.is_available():
            raise ValueError('dist_params.backend is nccl, which needs GPUs, but CUDA is not available here; set '
                             'dist_params.backend: gloo (or drop it) to train on CPUs')
        raise ValueError('num_gpu: 0 asks for a CPU run but dist_params.backend is nccl (GPU only); set '
                         'dist_params.backend: gloo, or num_gpu: auto to train on the GPUs')
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        raise RuntimeError('--launcher pytorch expects the environment torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR, '
                           'MASTER_PORT): start with `torchrun --nproc_per_node=N -m basicsr.train -opt X '
                           '--launcher pytorch`')
    if mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')  # as BasicSR does: CUDA in forked workers breaks
    if not on_cpu:
        local_rank = int(os.environ.get('LOCAL_RANK', int(os.environ['RANK']) % torch.cuda.device_count()))
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    # BasicSR never destroys the group; a gloo process that exits with it alive (rank 1 while rank 0 still
    # runs the final validation) can abort with 'terminate called without an active exception'
    atexit.register(_destroy_process_group)


def _destroy_process_group():
    if dist.is_initialized():
        dist.destroy_process_group()


class _NoTensorboard:
    """The tensorboard writer of ranks other than 0: accepts every ``add_*`` / ``close`` call, keeps nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _make_init_tb_loggers(original):

    def init_tb_loggers(opt):
        if opt.get('rank', 0) != 0 and runs_our_model(opt):
            return _NoTensorboard()
        return original(opt)

    init_tb_loggers.sdakd_original = original
    return init_tb_loggers


def patch_distributed():
    """Install :func:`init_dist` as ``basicsr.utils.options.init_dist`` and the rank-0-only tensorboard writer
    as ``basicsr.train.init_tb_loggers`` (idempotent)."""
    global _basicsr_init_dist
    import basicsr.train as basicsr_train
    import basicsr.utils.options as basicsr_options
    if basicsr_options.init_dist is not init_dist:
        _basicsr_init_dist = basicsr_options.init_dist
        basicsr_options.init_dist = init_dist
    if not hasattr(basicsr_train.init_tb_loggers, 'sdakd_original'):
        basicsr_train.init_tb_loggers = _make_init_tb_loggers(basicsr_train.init_tb_loggers)


class DistributedModelMixin:
    """Put first among a BasicSR model's bases: ``DistributedDataParallel`` that also works on CPUs."""

    def model_to_device(self, net):
        """BasicSR's ``model_to_device``, but a CPU run gets DDP without ``device_ids``."""
        if not (self.opt['dist'] and self.device.type == 'cpu'):
            return super().model_to_device(net)
        return DistributedDataParallel(net.to(self.device), device_ids=None,
                                       find_unused_parameters=self.opt.get('find_unused_parameters', False))


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def gather_rank_states(state):
    """Every rank's ``state`` (moved to the CPU) as a list on rank 0, None on other ranks.

    A collective: every rank must call it at the same point (e.g. in ``model.save``, which all ranks run,
    before the rank-0-only writes). Without a process group it returns ``[state]``.
    """
    state = _to_cpu(state)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [state]
    rank = dist.get_rank()
    gathered = [None] * dist.get_world_size() if rank == 0 else None
    dist.gather_object(state, gathered, dst=0)
    return gathered


def own_rank_state(rank_states, rank, world_size, logger=None):
    """This rank's entry of a saved :func:`gather_rank_states` list, or None if the run had fewer ranks.

    Resuming with another number of processes cannot continue every random stream exactly: ranks that were
    saved get their own state back, the others keep the fresh seed ``manual_seed + rank``; a warning says so.
    """
    if not rank_states:
        return None
    if len(rank_states) != world_size and logger is not None:
        logger.warning(f'resume: the training state holds the random states of {len(rank_states)} processes but this '
                       f'run has {world_size}; random streams (degradations, queue) do not continue exactly')
    return rank_states[rank] if rank < len(rank_states) else None
