"""Small, targeted fixes to BasicSR's training entry, applied when sdakd_basicsr is imported.

Nothing here edits installed files; ``basicsr.train.load_resume_state`` is swapped for a version that
* maps the resume state to the CPU when there is no GPU (1.4.2 calls ``torch.cuda.current_device()``), and
* keeps frozen teachers where the user put them: BasicSR redirects every ``network_*`` to the experiment's
  saved ``net_*_<iter>.pth`` on resume and turns every ``param_key_*: params_ema`` into ``params``; for the
  keys of :data:`FROZEN_NETWORKS` that would load a teacher that was never saved (or the wrong weights).
"""
import os.path as osp

import torch

#: top-level option keys of networks that never train and are therefore never saved in an experiment.
FROZEN_NETWORKS = ('network_g_teacher', )


def _teacher_path_entries(network_key):
    label = network_key[len('network_'):]
    return (f'pretrain_network_{label}', f'param_key_{label}', f'strict_load_{label}')


def load_resume_state(opt):
    """Drop-in for ``basicsr.train.load_resume_state`` (same contract: returns the state dict or None)."""
    from basicsr.utils import scandir
    from basicsr.utils.misc import check_resume

    resume_state_path = None
    if opt['auto_resume']:
        # ``python -m basicsr.train`` runs from the working directory under sdakd_basicsr (see startup hook)
        state_dir = osp.join(opt['path'].get('experiments_root', osp.join('experiments', opt['name'])),
                             'training_states')
        if osp.isdir(state_dir):
            iters = [int(float(name[:-len('.state')])) for name in scandir(state_dir, suffix='state')]
            if iters:
                resume_state_path = osp.join(state_dir, f'{max(iters)}.state')
                opt['path']['resume_state'] = resume_state_path
    elif opt['path'].get('resume_state'):
        resume_state_path = opt['path']['resume_state']
    if resume_state_path is None:
        return None

    if torch.cuda.is_available() and opt.get('num_gpu', 0) != 0:
        device_id = torch.cuda.current_device()
        resume_state = torch.load(resume_state_path, map_location=lambda storage, loc: storage.cuda(device_id),
                                  weights_only=False)
    else:
        resume_state = torch.load(resume_state_path, map_location='cpu', weights_only=False)

    kept = {}
    for network_key in FROZEN_NETWORKS:
        if network_key in opt:
            kept.update({k: opt['path'][k] for k in _teacher_path_entries(network_key) if k in opt['path']})
    check_resume(opt, resume_state['iter'])
    for network_key in FROZEN_NETWORKS:
        for key in _teacher_path_entries(network_key):
            opt['path'].pop(key, None)
    opt['path'].update(kept)
    return resume_state


def patch_basicsr():
    """Install the fixes above into the imported ``basicsr.train`` module (idempotent)."""
    import basicsr.train as basicsr_train
    basicsr_train.load_resume_state = load_resume_state
