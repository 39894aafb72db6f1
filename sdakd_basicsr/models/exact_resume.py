"""Checkpoints and resume shared by this project's models: atomic BasicSR-format saves, a resume that restores
every trained network, the random streams and model-specific state, and validation that leaves those streams
untouched, so that an interrupted run continues bit-identically (on CPU, with ``num_worker_per_gpu: 0``)."""
import os
import random
from collections import OrderedDict

import numpy as np
import torch

from basicsr.utils import get_root_logger
from basicsr.utils.dist_util import master_only

from sdakd_basicsr.distributed import gather_rank_states, own_rank_state
from sdakd_basicsr.utils.checkpoint import atomic_torch_save, load_checked, prune_checkpoints
from sdakd_basicsr.utils.run_identity import check_resume, run_record


def get_rng_states():
    """Every global random state the training step draws from (python, numpy, torch CPU and CUDA)."""
    states = {'python': random.getstate(), 'numpy': np.random.get_state(), 'torch': torch.get_rng_state()}
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states):
    """Restore :func:`get_rng_states`; the tensors may come back on a GPU (resume maps states to CUDA)."""
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'].cpu())
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in states['cuda']])


class ExactResumeMixin:
    """Mixed into a BasicSR ``SRModel`` subclass (before it in the bases).

    The model lists what it trains besides ``net_g`` in :meth:`trained_networks` and its extra resumable state
    in :meth:`extra_training_state` / :meth:`load_extra_training_state`.
    """

    def trained_networks(self):
        """``[(label, attribute)]`` of trained networks besides ``net_g``, saved as ``net_<label>_<iter>.pth``."""
        return []

    def extra_training_state(self):
        """Model-specific state saved in the training state (must be picklable)."""
        return {}

    def load_extra_training_state(self, state):
        """Restore :meth:`extra_training_state`."""

    # ------------------------------------------------------------------ loading
    def load_network(self, net, load_path, strict=True, param_key='params'):
        """BasicSR's ``load_network`` with bare state dicts accepted and mismatches named before training."""
        path_option = next((f'path.{k}' for k, v in self.opt['path'].items()
                            if k.startswith('pretrain_network') and v == load_path), 'path')
        bare = self.get_bare_model(net)
        used = load_checked(bare, load_path, param_key, strict, path_option, bare.__class__.__name__)
        get_root_logger().info(f'Loaded {bare.__class__.__name__} from {load_path} [{used}]')

    # ------------------------------------------------------------------ saving
    def save(self, epoch, current_iter):
        # every process's random streams and extra state, gathered before the rank-0-only writes below
        rank_states = None if current_iter == -1 else gather_rank_states(self._rank_state())
        if hasattr(self, 'net_g_ema'):
            self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, param_key=['params', 'params_ema'])
        else:
            self.save_network(self.net_g, 'net_g', current_iter)
        for label, attr in self.trained_networks():
            if getattr(self, attr, None) is not None:
                self.save_network(getattr(self, attr), f'net_{label}', current_iter)
        self.save_training_state(epoch, current_iter, rank_states)
        self._prune_checkpoints()

    @master_only
    def _prune_checkpoints(self):
        for path in prune_checkpoints(self.opt):
            get_root_logger().info(f'Removed {path} (left by an interrupted save, or beyond logger.keep_last_states)')

    def _network_files(self, current_iter):
        """Names of the network files :meth:`save` writes for ``current_iter`` (the training state needs them)."""
        labels = ['g'] + [label for label, attr in self.trained_networks() if getattr(self, attr, None) is not None]
        return [f'net_{label}_{current_iter}.pth' for label in labels]

    def _rank_state(self):
        """What differs between the processes of a distributed run: random streams and the extra state."""
        return {'rng': get_rng_states(), **self.extra_training_state()}

    @master_only
    def save_network(self, net, net_label, current_iter, param_key='params'):
        """BasicSR's checkpoint format, written atomically (a crash never leaves a truncated file)."""
        nets = net if isinstance(net, list) else [net]
        keys = param_key if isinstance(param_key, list) else [param_key]
        save_dict = {}
        for net_, key in zip(nets, keys):
            state = self.get_bare_model(net_).state_dict()
            save_dict[key] = OrderedDict((k[7:] if k.startswith('module.') else k, v.detach().cpu())
                                         for k, v in state.items())
        label = 'latest' if current_iter == -1 else current_iter
        atomic_torch_save(save_dict, os.path.join(self.opt['path']['models'], f'{net_label}_{label}.pth'))

    @master_only
    def save_training_state(self, epoch, current_iter, rank_states=None):
        if current_iter == -1:
            return
        state = {'epoch': epoch, 'iter': current_iter,
                 'optimizers': [o.state_dict() for o in self.optimizers],
                 'schedulers': [s.state_dict() for s in self.schedulers],
                 'exact_resume': {'ranks': rank_states or [self._rank_state()]},
                 'run_record': run_record(self.opt),
                 # written last: a state on disk means these files are complete (auto-resume checks them)
                 'network_files': self._network_files(current_iter)}
        atomic_torch_save(state, os.path.join(self.opt['path']['training_states'], f'{current_iter}.state'))

    # ------------------------------------------------------------------ resuming
    def resume_training(self, resume_state):
        """Optimizers and schedulers (BasicSR), every trained network, the random streams and the extra state."""
        resume_iter = resume_state['iter']
        # the options must still describe the saved run; checked before any saved weights are loaded
        check_resume(resume_state.get('run_record'), self.opt, resume_iter, get_root_logger(),
                     self.opt['path'].get('resume_state'))
        super().resume_training(resume_state)
        models_dir = self.opt['path']['models']

        def load(net, label, key='params'):
            path = os.path.join(models_dir, f'net_{label}_{resume_iter}.pth')
            if not os.path.isfile(path):
                raise FileNotFoundError(f'resume from iter {resume_iter}: {path} is missing; the experiment folder '
                                        'is incomplete (set path.resume_state to an earlier state)')
            self.get_bare_model(net).load_state_dict(torch.load(path, map_location=self.device)[key])

        load(self.net_g, 'g')
        if hasattr(self, 'net_g_ema'):
            load(self.net_g_ema, 'g', 'params_ema')
        for label, attr in self.trained_networks():
            if getattr(self, attr, None) is not None:
                load(getattr(self, attr), label)
        saved = resume_state.get('exact_resume', {})
        saved = own_rank_state(saved.get('ranks') or [saved], self.opt['rank'], self.opt['world_size'],
                               get_root_logger()) or {}  # this process's entry
        self.load_extra_training_state(saved)
        if 'rng' in saved:
            set_rng_states(saved['rng'])

    # ------------------------------------------------------------------ validation
    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        # validation must not move the training random streams, or resumed runs would diverge
        states = get_rng_states()
        try:
            super().validation(dataloader, current_iter, tb_logger, save_img)
        finally:
            set_rng_states(states)
