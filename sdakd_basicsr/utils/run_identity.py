"""What defines a training run, saved with each training state and compared on resume.

A resumed run must be the run that was saved. The record holds the options as the model resolved them
(students derived from the teacher, the stage schedule, the family and its taps, the losses) and the size and
sha256 of each frozen teacher file. On resume every difference is either refused, before any saved weights
are loaded, with the option's two values, or, for the changes listed in :data:`ALLOWED_CHANGES`, logged and
accepted. docs/reliability.md lists the accepted changes.
"""
import fnmatch
import hashlib
import os

#: options BasicSR fills in per process or that only say where files are (never part of the record)
NOT_RECORDED = ('path', 'is_train', 'dist', 'rank', 'world_size', 'auto_resume', 'root_path', 'name')

#: changes that leave the run's networks and its schedule so far intact (fnmatch patterns on dotted names)
ALLOWED_CHANGES = (
    'train.total_iter', 'train.warmup_iter', 'train.optim_*.lr', 'train.scheduler.*', 'manual_seed', 'num_gpu',
    'logger.*', 'val.*', 'datasets.val*', 'datasets.*.dataroot*', 'datasets.*.meta_info', 'datasets.*.io_backend.*',
    'datasets.*.num_worker_per_gpu', 'datasets.*.prefetch_mode', 'datasets.*.pin_memory',
    'datasets.*.persistent_workers', 'dist_params.*',
)

#: frozen networks whose weights come from the user's file on every start (see sdakd_basicsr.compat)
TEACHER_PATH_OPTIONS = ('pretrain_network_g_teacher', )

_hash_cache = {}


def file_fingerprint(path):
    """``{'path', 'size', 'sha256'}`` of a file (the hash is cached per path, size and modification time)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _hash_cache:
        digest = hashlib.sha256()
        with open(path, 'rb') as handle:
            for block in iter(lambda: handle.read(1 << 20), b''):
                digest.update(block)
        _hash_cache[key] = digest.hexdigest()
    return {'path': os.path.abspath(path), 'size': stat.st_size, 'sha256': _hash_cache[key]}


def _flatten(value, prefix, out):
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f'{prefix}.{key}' if prefix else str(key), out)
    elif isinstance(value, (list, tuple)) and any(isinstance(item, dict) for item in value):
        out[f'{prefix}.length'] = len(value)
        for index, item in enumerate(value):
            _flatten(item, f'{prefix}[{index}]', out)
    else:
        out[prefix] = list(value) if isinstance(value, tuple) else value


def run_record(opt):
    """The record saved with a training state: flattened options (``{'network_g.num_feat': 32, ...}``) and the
    fingerprints of the frozen teacher files (``{'path.pretrain_network_g_teacher': {...}}``)."""
    options = {}
    _flatten({k: v for k, v in opt.items() if k not in NOT_RECORDED}, '', options)
    teachers = {}
    for key in TEACHER_PATH_OPTIONS:
        path = (opt.get('path') or {}).get(key)
        if path and os.path.isfile(path):
            teachers[f'path.{key}'] = file_fingerprint(path)
    return {'options': options, 'teacher_files': teachers}


def _allowed(name, saved, current):
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in ALLOWED_CHANGES):
        return True
    # the last stage may grow or shrink: the stages before it, and so the run so far, stay the same
    n_saved, n_now = saved.get('train.stages.length'), current.get('train.stages.length')
    return n_saved == n_now and n_now is not None and name == f'train.stages[{n_now - 1}].iters'


def compare_records(saved, current):
    """``(refused, allowed)``: lists of ``(option, saved value, current value)`` where the records differ."""
    missing = object()
    refused, allowed = [], []
    saved_opts, current_opts = saved.get('options', {}), current.get('options', {})
    for name in sorted(set(saved_opts) | set(current_opts)):
        old, new = saved_opts.get(name, missing), current_opts.get(name, missing)
        if old == new:
            continue
        entry = (name, '(not set)' if old is missing else old, '(not set)' if new is missing else new)
        (allowed if _allowed(name, saved_opts, current_opts) else refused).append(entry)
    return refused, allowed


class ResumeMismatchError(ValueError):
    """The options or the teacher file no longer describe the run saved in the training state."""


def teacher_change_message(saved, current, resume_iter):
    """Error text for changed teacher files, or '' when they are as saved (or were not recorded)."""
    lines = []
    for option, old in (saved.get('teacher_files') or {}).items():
        new = (current.get('teacher_files') or {}).get(option)
        if new is None or (old['size'], old['sha256']) == (new['size'], new['sha256']):
            continue  # a missing file is reported by the teacher loader, with the option to fix
        lines.append(f'{option}: the teacher file {new["path"]} changed since iter {resume_iter} was saved:\n'
                     f'    saved: {old["size"]:,d} bytes, sha256 {old["sha256"]}\n'
                     f'    now:   {new["size"]:,d} bytes, sha256 {new["sha256"]}\n'
                     'Put the original teacher file back (the saved size and sha256 identify it) to continue this '
                     'experiment; to distil from the new teacher, start a new experiment (another `name`).')
    return '\n'.join(lines)


def _mismatch_message(where, refused, opt, resume_iter):
    models = opt.get('path', {}).get('models', 'models')
    return (f'Cannot resume from {where}: the options now define another run than the one saved at iter '
            f'{resume_iter}:\n' + '\n'.join(f'    {name}: saved {old!r}, now {new!r}' for name, old, new in refused)
            + '\nRestore these options to continue this experiment, or start a new experiment (another `name`); '
            f'to start it from this run\'s student, set path.pretrain_network_g: '
            f'{os.path.join(models, f"net_g_{resume_iter}.pth")}. The changes a resume accepts are listed in '
            'docs/reliability.md.')


def check_resume(saved, opt, resume_iter, logger, state_path=None):
    """Refuse a resume under changed options or a changed teacher file; log the accepted changes.

    Args:
        saved (dict | None): ``run_record`` stored in the training state (None for states written before it).
        opt (dict): The current options, resolved by the model.
        resume_iter (int): Iteration of the training state.
        logger (logging.Logger): Where accepted changes and warnings go.
        state_path (str): The state file, for messages.

    Raises:
        ResumeMismatchError: Naming each refused option with its saved and current value.
    """
    where = state_path or f'the training state of iter {resume_iter}'
    if not saved:
        logger.warning(f'Resume from {where}: this state does not record the options it was trained with (written '
                       'by an older version); the options cannot be compared, make sure they are unchanged.')
        return
    current = run_record(opt)
    teacher_message = teacher_change_message(saved, current, resume_iter)
    if teacher_message:
        raise ResumeMismatchError(f'Cannot resume from {where}: ' + teacher_message)
    refused, allowed = compare_records(saved, current)
    if refused:
        raise ResumeMismatchError(_mismatch_message(where, refused, opt, resume_iter))
    for name, old, new in allowed:
        logger.info(f'Resume with a changed option (accepted): {name}: saved {old!r}, now {new!r}')


def check_resume_early(resume_state, opt, state_path=None):
    """The refusals that need no model: a changed teacher file and changed options as written in the file
    (options the model derives, such as the students' ``network_g``, are compared by :func:`check_resume`).
    Called as soon as the training state is read, before the teacher is loaded."""
    saved = resume_state.get('run_record')
    if not saved:
        return
    where = state_path or 'the training state'
    current = run_record(opt)
    message = teacher_change_message(saved, current, resume_state['iter'])
    if message:
        raise ResumeMismatchError(f'Cannot resume from {where}: ' + message)
    refused = [entry for entry in compare_records(saved, current)[0] if entry[2] != '(not set)']
    if refused:
        raise ResumeMismatchError(_mismatch_message(where, refused, opt, resume_state['iter']))
