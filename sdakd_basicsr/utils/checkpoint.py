"""Checkpoint I/O: atomic saves, the choice of the state to resume from, pruning of old checkpoints, and teacher
loading with errors that name the option to fix."""
import errno
import glob
import os
import re
import pickle
import tempfile
import zipfile

import torch

from sdakd_basicsr.utils.file_kinds import wrong_file_message

# how a file saved by torch.save starts: a zip archive (torch >= 1.6) or a pickle stream (older torch)
_CHECKPOINT_MAGIC = (b'PK\x03\x04', b'\x80')


def atomic_torch_save(obj, path):
    """``torch.save`` to a temporary file beside ``path``, then rename: an interrupted save never leaves a broken
    ``path``, and concurrent writers never share a temporary file. Parent folders are created."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(prefix=TMP_PREFIX, suffix='.pth', dir=folder)
    try:
        with os.fdopen(handle, 'wb') as tmp_file:
            torch.save(obj, tmp_file)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())  # the bytes are on disk before the name points at them
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp_path, path)
        _fsync_folder(folder)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise OSError(error.errno, f'{os.strerror(error.errno)} while writing {path}: that file was not '
                          'written; the checkpoints saved before it are intact. Free disk space (docs/reliability.md '
                          'gives the size of each checkpoint; logger.keep_last_states keeps only the last ones), '
                          'then continue with --auto_resume.', path) from error
        raise
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


TMP_PREFIX = '.tmp_'


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. a platform without directory handles: the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_STATE_NAME = re.compile(r'^(\d+)\.state$')
_MODEL_NAME = re.compile(r'^(net_.+)_(\d+)\.pth$')


def saved_states(state_dir):
    """``[(iter, path)]`` of the ``<iter>.state`` files in ``state_dir``, newest first."""
    found = []
    if os.path.isdir(state_dir):
        for name in os.listdir(state_dir):
            match = _STATE_NAME.match(name)
            if match:
                found.append((int(match.group(1)), os.path.join(state_dir, name)))
    return sorted(found, reverse=True)


def missing_companions(state, models_dir):
    """Network files a training state needs that are absent or incomplete in ``models_dir`` (names)."""
    names = state.get('network_files') or [f'net_g_{state["iter"]}.pth']  # older states list none
    return [name for name in names if not zipfile.is_zipfile(os.path.join(models_dir, name))]


def find_resume_state(state_dir, models_dir, load, warn=print):
    """The newest training state that can be resumed: readable, with every network file it needs.

    Args:
        state_dir (str): ``training_states`` folder of the experiment.
        models_dir (str): ``models`` folder of the experiment.
        load (callable): ``path -> state`` (``torch.load`` with the right ``map_location``).
        warn (callable): Receives one line per skipped state.

    Returns:
        tuple: ``(path, state)``, or ``(None, None)`` when there is none.
    """
    for _, path in saved_states(state_dir):
        try:
            state = load(path)
        except Exception as error:  # noqa: B902  (any unreadable file is skipped the same way)
            warn(f'Skipping training state {path}: it cannot be read ({type(error).__name__}: '
                 f'{str(error).splitlines()[0][:160] if str(error) else ""}).')
            continue
        missing = missing_companions(state, models_dir)
        if missing:
            warn(f'Skipping training state {path}: its network files {missing} are missing or incomplete in '
                 f'{models_dir}.')
            continue
        return path, state
    return None, None


def check_keep_options(opt):
    """``logger.keep_last_states`` (positive int or absent) and ``logger.prune_models`` (bool)."""
    logger_opt = opt.get('logger') or {}
    keep = logger_opt.get('keep_last_states')
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
        raise ValueError(f'logger.keep_last_states={keep!r} must be a positive integer (the number of newest '
                         'training states to keep) or ~ to keep all of them')
    prune = logger_opt.get('prune_models', False)
    if not isinstance(prune, bool):
        raise ValueError(f'logger.prune_models={prune!r} must be true or false')


def prune_checkpoints(opt):
    """Remove temporary files left by killed saves and, with ``logger.keep_last_states: K``, every training state
    but the newest K; with ``logger.prune_models: true`` also the network files of the removed states. Files a
    kept state needs, ``*_latest.pth`` and files newer than the newest state are never removed.

    Returns:
        list[str]: The removed files.
    """
    paths = opt['path']
    removed = []
    for folder in (paths['training_states'], paths['models']):
        for tmp in glob.glob(os.path.join(folder, TMP_PREFIX + '*.pth')):
            os.remove(tmp)  # one writer per experiment (rank 0): any temporary file here is from a killed save
            removed.append(tmp)
    keep = (opt.get('logger') or {}).get('keep_last_states')
    states = saved_states(paths['training_states'])
    if not keep or len(states) <= keep:
        return removed
    kept_iters = {it for it, _ in states[:keep]}
    for _, path in states[keep:]:  # the states first: a model file without its state is never picked
        os.remove(path)
        removed.append(path)
    if (opt.get('logger') or {}).get('prune_models'):
        newest = states[0][0]
        for name in os.listdir(paths['models']):
            match = _MODEL_NAME.match(name)
            if match and int(match.group(2)) < newest and int(match.group(2)) not in kept_iters:
                os.remove(os.path.join(paths['models'], name))
                removed.append(os.path.join(paths['models'], name))
    return removed


def extract_state_dict(checkpoint, param_key='params_ema'):
    """The state dict inside a BasicSR checkpoint (``param_key``, then ``params_ema`` / ``params``) or a bare one.

    Returns:
        tuple[dict, str]: the state dict (``module.`` prefixes removed) and the key it came from
        (``'<bare>'`` for a bare state dict).
    """
    if not isinstance(checkpoint, dict):
        raise TypeError(f'expected a state dict or a dict of state dicts, got {type(checkpoint).__name__}')
    used = None
    for key in (param_key, 'params_ema', 'params'):
        if key and isinstance(checkpoint.get(key), dict):
            used = key
            break
    if used is None:
        if not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            raise KeyError(f'no {param_key!r}, "params_ema" or "params" entry and not a bare state dict '
                           f'(top-level keys: {list(checkpoint)[:8]})')
        state, used = checkpoint, '<bare>'
    else:
        state = checkpoint[used]
    return {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}, used


def load_checkpoint_file(path, option):
    """``torch.load`` (weights only, to the CPU) whose errors name ``option``, the file and the fix.

    Args:
        path (str): An existing file.
        option (str): The option that named ``path`` (e.g. ``path.pretrain_network_g_teacher``).
    """
    with open(path, 'rb') as handle:
        head = handle.read(64)
    size = os.path.getsize(path)
    fix = (f'Point {option} to a checkpoint written by torch.save (a BasicSR .pth), or create the file again '
           '(a converted teacher: delete it and rerun the conversion; a downloaded one: download it again).')
    if not head.startswith(_CHECKPOINT_MAGIC):
        text = head.decode('utf-8', 'replace').strip()
        kind = 'an HTML page' if text.lower().startswith(('<!doctype', '<html')) else 'not a PyTorch checkpoint'
        raise ValueError(f'{option}: {path!r} ({size:,d} bytes) is {kind}: it starts with {text[:40]!r}, not '
                         f'with the bytes torch.save writes. {fix}')
    if head.startswith(b'PK') and not zipfile.is_zipfile(path):
        raise ValueError(f'{option}: {path!r} ({size:,d} bytes) is a truncated or damaged checkpoint (its zip '
                         f'archive has no end). {fix}')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        wrong = wrong_file_message(path)  # e.g. a training state: say which file to pass, not torch's advice
        if wrong:
            raise ValueError(f'{option}: {wrong}') from None
        raise ValueError(f'{option}: {path!r} ({size:,d} bytes) cannot be read as a PyTorch checkpoint '
                         f'({type(error).__name__}: {str(error).splitlines()[0][:200]}). {fix}') from error


def load_checked(net, path, param_key, strict, path_option, net_option):
    """Load ``path`` into ``net``; mismatches raise before any training with the first differing keys.

    Args:
        net (nn.Module): Network built from the options (bare, not DDP).
        path (str): Checkpoint file.
        param_key (str): Preferred entry (``params_ema``, ``params``); a bare state dict is accepted too.
        strict (bool): Whether keys must match exactly.
        path_option (str): Option holding ``path`` (e.g. ``path.pretrain_network_g_teacher``), for messages.
        net_option (str): Option describing ``net`` (e.g. ``network_g_teacher``), for messages.

    Returns:
        str: The entry the weights came from.
    """
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f'{path_option}: checkpoint file {path!r} does not exist; set {path_option} to '
                                'the teacher checkpoint (see README, "Real data and official weights").')
    checkpoint = load_checkpoint_file(path, path_option)
    try:
        state, used = extract_state_dict(checkpoint, param_key)
    except (KeyError, TypeError) as error:
        wrong = wrong_file_message(path, checkpoint) if net_option.startswith('network_g') else None
        raise ValueError(f'{path_option}={path}: ' + (wrong or str(error))) from None
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong_shape = [f'{k}: checkpoint {tuple(state[k].shape)} vs {net_option} {tuple(own[k].shape)}'
                   for k in own if k in state and state[k].shape != own[k].shape]
    if wrong_shape or (strict and (missing or unexpected)):
        lines = []
        if wrong_shape:
            lines.append(f'{len(wrong_shape)} shape mismatches, first: {wrong_shape[:5]}')
        if strict and missing:
            lines.append(f'{len(missing)} keys missing from the checkpoint, first: {missing[:5]}')
        if strict and unexpected:
            lines.append(f'{len(unexpected)} unexpected keys in the checkpoint, first: {unexpected[:5]}')
        wrong = wrong_file_message(path, checkpoint) if net_option.startswith('network_g') else None
        if wrong:
            raise ValueError(f'{path_option}: {wrong}')
        raise ValueError(f'{path_option}={path} does not fit {net_option} ({net.__class__.__name__}): '
                         + '; '.join(lines) + f'. Change {net_option} (channels, blocks, size, narrow) to '
                         'the architecture the checkpoint was trained with, or point to the right file.')
    net.load_state_dict(state, strict=strict)
    return used
