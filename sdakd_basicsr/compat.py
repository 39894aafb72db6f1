"""Small, targeted fixes to BasicSR's training entry, active only for runs of this project's models.

Nothing here edits installed files. Importing sdakd_basicsr swaps two names in the ``basicsr.train`` module, and
each replacement first asks :func:`runs_our_model`: for any other ``model_type`` (SRModel, ESRGANModel, a
user's own model...) it calls BasicSR's original with the same arguments and returns its result untouched, so
other experiments in the same environment behave exactly as before (tested with a plain SRModel run).

* ``load_resume_state`` maps the resume state to the CPU when there is no GPU (1.4.2 calls
  ``torch.cuda.current_device()``) and keeps frozen teachers where the user put them. On resume BasicSR's
  ``check_resume`` points every ``network_*`` at the experiment's saved ``net_*_<iter>.pth`` and turns every
  ``param_key_*: params_ema`` into ``params``. BasicSR's own ``path.ignore_resume_networks`` is not enough for
  :data:`FROZEN_NETWORKS`: it keeps the path but still rewrites ``param_key_g_teacher`` from ``params_ema`` to
  ``params``, so the teacher would silently come back with other weights (or fail where a file has only
  ``params_ema``), and every option file would have to repeat the list.
* ``create_train_val_dataloader`` makes resume continue the data stream where it stopped: BasicSR restarts
  the interrupted epoch from its first batch (and after a checkpoint on an epoch's last iteration repeats that
  epoch), so the resumed run would see other batches than an uninterrupted one. For our runs the sampler is a
  :class:`ResumableEnlargedSampler` that skips the batches already consumed, and the loader draws its worker seed
  from its own generator, so that starting an epoch does not advance the global torch RNG that the training
  step (and the resume state) relies on.
"""
import os.path as osp

import torch
from basicsr.data.data_sampler import EnlargedSampler

from sdakd_basicsr.data.image_files import FileNamingDataset
from sdakd_basicsr.utils.checkpoint import find_resume_state
from sdakd_basicsr.utils.option_checks import check_training_options
from sdakd_basicsr.utils.run_identity import check_resume_early

# resume state loaded by load_resume_state, consumed by create_train_val_dataloader of the same process
_pending_resume = {}

#: top-level option keys of networks that never train and are therefore never saved in an experiment.
FROZEN_NETWORKS = ('network_g_teacher', )


def _teacher_path_entries(network_key):
    label = network_key[len('network_'):]
    return (f'pretrain_network_{label}', f'param_key_{label}', f'strict_load_{label}')


#: BasicSR's own functions, kept by :func:`patch_basicsr` for runs of other models
_ORIGINALS = {}


def runs_our_model(opt):
    """Whether ``opt`` (options as BasicSR parsed them) trains a model registered by sdakd_basicsr."""
    from basicsr.utils.registry import MODEL_REGISTRY
    model_type = opt.get('model_type')
    if model_type not in MODEL_REGISTRY:
        return False
    return MODEL_REGISTRY.get(model_type).__module__.startswith('sdakd_basicsr.')


def load_resume_state(opt):
    """Drop-in for ``basicsr.train.load_resume_state`` (same contract: returns the state dict or None)."""
    if not runs_our_model(opt):
        return _ORIGINALS['load_resume_state'](opt)
    from basicsr.utils.misc import check_resume

    def load(path):
        if torch.cuda.is_available() and opt.get('num_gpu', 0) != 0:
            device_id = torch.cuda.current_device()
            return torch.load(path, map_location=lambda storage, loc: storage.cuda(device_id), weights_only=False)
        return torch.load(path, map_location='cpu', weights_only=False)

    if opt['auto_resume']:
        # ``python -m basicsr.train`` runs from the working directory under sdakd_basicsr (see startup hook);
        # the newest state that is complete: readable, with all its network files (a killed save leaves none)
        exp_root = opt['path'].get('experiments_root', osp.join('experiments', opt['name']))
        resume_state_path, resume_state = find_resume_state(
            osp.join(exp_root, 'training_states'), opt['path'].get('models', osp.join(exp_root, 'models')), load)
        if resume_state_path is None:
            return None
        opt['path']['resume_state'] = resume_state_path
    elif opt['path'].get('resume_state'):
        resume_state_path = opt['path']['resume_state']
        resume_state = load(resume_state_path)
    else:
        return None

    kept = {}
    for network_key in FROZEN_NETWORKS:
        if network_key in opt:
            kept.update({k: opt['path'][k] for k in _teacher_path_entries(network_key) if k in opt['path']})
    check_resume(opt, resume_state['iter'])
    for network_key in FROZEN_NETWORKS:
        for key in _teacher_path_entries(network_key):
            opt['path'].pop(key, None)
    opt['path'].update(kept)
    check_resume_early(resume_state, opt, resume_state_path)  # before the model loads the teacher
    _pending_resume['state'] = resume_state
    return resume_state


class ResumableEnlargedSampler(EnlargedSampler):
    """BasicSR's ``EnlargedSampler`` that can drop the first samples of its next epoch (used on resume)."""

    skip_once = 0

    def __iter__(self):
        indices = list(super().__iter__())
        skip, self.skip_once = self.skip_once, 0
        return iter(indices[skip:])


def create_train_val_dataloader(opt, logger):
    """Drop-in for ``basicsr.train.create_train_val_dataloader``: for our runs, a data stream that resumes exactly."""
    import basicsr.train as basicsr_train
    original = _ORIGINALS['create_train_val_dataloader']
    if not runs_our_model(opt):
        return original(opt, logger)
    check_training_options(opt)  # clear errors for missing data folders and absent GPUs, before any work
    basicsr_train.EnlargedSampler = ResumableEnlargedSampler  # only while BasicSR builds our loaders
    build_dataset = basicsr_train.build_dataset
    basicsr_train.build_dataset = lambda dataset_opt: FileNamingDataset(build_dataset(dataset_opt))  # names bad files
    try:
        result = original(opt, logger)
    finally:
        basicsr_train.EnlargedSampler = EnlargedSampler
        basicsr_train.build_dataset = build_dataset
    train_loader, train_sampler = result[0], result[1]
    if train_loader is None:
        return result
    train_loader.generator = torch.Generator().manual_seed(int(opt.get('manual_seed') or 0) + opt['rank'])
    resume_state = _pending_resume.pop('state', None)
    if resume_state is not None and isinstance(train_sampler, ResumableEnlargedSampler):
        batches_per_epoch = len(train_loader)
        done = resume_state['iter']
        resume_state['epoch'] = done // batches_per_epoch
        train_sampler.skip_once = (done % batches_per_epoch) * train_loader.batch_size
        logger.info(f'Resume: continuing epoch {resume_state["epoch"]} after its first '
                    f'{done % batches_per_epoch} of {batches_per_epoch} batches.')
    return result


def patch_basicsr():
    """Install the replacements above into the imported ``basicsr.train`` module (idempotent)."""
    import basicsr.train as basicsr_train
    for name, replacement in (('load_resume_state', load_resume_state),
                              ('create_train_val_dataloader', create_train_val_dataloader)):
        current = getattr(basicsr_train, name)
        if current is not replacement:
            _ORIGINALS[name] = current
            setattr(basicsr_train, name, replacement)
    from sdakd_basicsr.distributed import patch_distributed
    patch_distributed()  # torchrun on CPUs (gloo), tensorboard on rank 0; for runs of our models only
