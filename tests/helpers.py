"""Shared helpers: tiny real data, random-weight teachers in BasicSR's format, option dicts, CLI runs."""
import os
import re
import subprocess
import sys

import cv2
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_REALESRGAN_YML = os.path.join(REPO_ROOT, 'options', 'tests', 'sdakd_realesrgan_tiny.yml')


def write_tiny_realesrgan_data(root):
    """Crops of a real photo (scikit-image's astronaut) laid out as the tiny options expect, under ``root``."""
    import skimage.data
    photo = skimage.data.astronaut()[..., ::-1]  # RGB -> BGR for cv2
    train_dir = os.path.join(root, 'datasets', 'tiny', 'train')
    os.makedirs(train_dir, exist_ok=True)
    names = []
    for i, (y, x) in enumerate([(0, 0), (100, 200), (250, 50), (300, 300)]):
        names.append(f'{i}.png')
        cv2.imwrite(os.path.join(train_dir, names[-1]), photo[y:y + 96, x:x + 96])
    with open(os.path.join(train_dir, 'meta_info.txt'), 'w') as handle:
        handle.write('\n'.join(names) + '\n')
    for sub in ('gt', 'lq'):
        os.makedirs(os.path.join(root, 'datasets', 'tiny', 'val', sub), exist_ok=True)
    gt = photo[200:264, 200:264]
    cv2.imwrite(os.path.join(root, 'datasets', 'tiny', 'val', 'gt', 'a.png'), gt)
    cv2.imwrite(os.path.join(root, 'datasets', 'tiny', 'val', 'lq', 'a.png'),
                cv2.resize(gt, (16, 16), interpolation=cv2.INTER_AREA))


def save_random_teacher(path, net_opt, seed=0, param_key='params_ema'):
    """Build ``net_opt`` with random weights and save it as a BasicSR checkpoint (or bare if key is None)."""
    from basicsr.archs import build_network
    torch.manual_seed(seed)
    net = build_network(net_opt)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(net.state_dict() if param_key is None else {param_key: net.state_dict()}, path)
    return net


def load_yaml(path):
    """An option file as the package reads it (:func:`sdakd_basicsr.utils.options.load_options`)."""
    from sdakd_basicsr.utils.options import load_options
    return load_options(path)


def make_experiment(root, yml):
    """An experiment folder as basicsr.train leaves it: the option file and a (random) student checkpoint."""
    import shutil

    from sdakd_basicsr.utils.options import load_resolved_options
    opt, _ = load_resolved_options(yml)
    exp_dir = os.path.join(root, 'experiments', opt['name'])
    os.makedirs(os.path.join(exp_dir, 'models'))
    shutil.copy(yml, os.path.join(exp_dir, os.path.basename(yml)))
    save_random_teacher(os.path.join(exp_dir, 'models', 'net_g_latest.pth'), opt['network_g'], seed=1)
    return exp_dir


def prepare_tiny_realesrgan_run(root):
    """Data + teacher checkpoint the tiny Real-ESRGAN options need, under working directory ``root``."""
    write_tiny_realesrgan_data(root)
    opt = load_yaml(TINY_REALESRGAN_YML)
    save_random_teacher(os.path.join(root, opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    return opt


def training_opt(opt, root, train_type=None):
    """What basicsr's parse_options adds to a training option dict, with the experiment under ``root``."""
    opt = dict(opt)
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False, root_path=root)
    exp = os.path.join(root, 'experiments', opt['name'])
    opt['path'] = dict(opt['path'], experiments_root=exp, models=os.path.join(exp, 'models'),
                       training_states=os.path.join(exp, 'training_states'), log=exp,
                       visualization=os.path.join(exp, 'visualization'))
    for key in ('models', 'training_states'):
        os.makedirs(opt['path'][key], exist_ok=True)
    for key in ('pretrain_network_g_teacher', ):
        if opt['path'].get(key) and not os.path.isabs(opt['path'][key]):
            opt['path'][key] = os.path.join(root, opt['path'][key])
    if train_type is not None:
        opt['datasets'] = dict(opt['datasets'], train=dict(opt['datasets']['train'], type=train_type))
    return opt


def run_cli(args, cwd, timeout=600):
    """Run ``python <args>`` in ``cwd`` with an empty TORCH_HOME; return the completed process (text).

    ``PYTHONPATH`` is this checkout, so the subprocess runs the code under test even where another checkout of
    sdakd_basicsr is installed (editable) in the environment.
    """
    env = dict(os.environ)
    env['TORCH_HOME'] = os.path.join(cwd, 'empty_torch_home')
    env['PYTHONPATH'] = REPO_ROOT
    return subprocess.run([sys.executable] + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def run_clis(commands, timeout=600):
    """Several :func:`run_cli` commands ``(args, cwd)`` at once; their completed processes, in order.

    Each is still a process of its own; started together, their seconds of importing torch, torchvision and
    basicsr (one core each) overlap on a machine with two or more cores.
    """
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max(1, len(commands))) as pool:
        return list(pool.map(lambda command: run_cli(*command, timeout=timeout), commands))


LOSS_LINE = re.compile(r'iter:\s*([\d,]+), lr:.*?\]\s*\[eta.*?\]\s*(.*)$')


def logged_losses(log_text):
    """{iter: 'l_g_pix: ... l_d_fake: ...'} from BasicSR's training log lines."""
    result = {}
    for line in log_text.splitlines():
        match = LOSS_LINE.search(line)
        if match:
            result[int(match.group(1).replace(',', ''))] = match.group(2).strip()
    return result


TINY_GCFSR_SDAKD_YML = os.path.join(REPO_ROOT, 'options', 'tests', 'sdakd_gcfsr_tiny.yml')


def write_tiny_face_data(root, size=64):
    """Face crops of scikit-image's astronaut at ``size`` px: 4 training images and 1 validation image."""
    import skimage.data
    photo = skimage.data.astronaut()[..., ::-1]
    train_dir = os.path.join(root, 'datasets', 'tiny_gcfsr', 'train')
    val_dir = os.path.join(root, 'datasets', 'tiny_gcfsr', 'val')
    os.makedirs(train_dir, exist_ok=True)
    os.makedirs(val_dir, exist_ok=True)
    for i, (y, x) in enumerate([(0, 100), (20, 140), (40, 120), (10, 110)]):
        crop = cv2.resize(photo[y:y + 200, x:x + 200], (size, size), interpolation=cv2.INTER_AREA)
        cv2.imwrite(os.path.join(train_dir, f'{i}.png'), crop)
    cv2.imwrite(os.path.join(val_dir, 'v.png'),
                cv2.resize(photo[30:230, 130:330], (size, size), interpolation=cv2.INTER_AREA))


def write_random_vgg(path, vgg_type='vgg19'):
    """Random-weight torchvision VGG state dict at ``path`` (plumbing only: no ImageNet features).

    Only ``features`` carry random values; the classifier (never used by perceptual losses, >100 M numbers) is
    stored as zero-stride views of one element, which keeps the file small.
    """
    import math
    import torchvision
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.device('meta'):
        layout = {k: v.shape for k, v in getattr(torchvision.models, vgg_type)(weights=None).state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in layout.items():
        if key.startswith('features.') and key.endswith('weight'):
            state[key] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / (shape[1] * shape[2] * shape[3]))
        else:
            state[key] = torch.zeros(1).expand(shape)
    torch.save(state, path)
    return path


def train_tiny(root, yml):
    """Save a random teacher for option file ``yml`` under ``root``, run ``python -m basicsr.train -opt yml`` there.

    The data must already be under ``root``. Returns ``(opt, exp_dir, log)``: the options as read from the file,
    the experiment folder and the text of its training logs.
    """
    opt = load_yaml(yml)
    save_random_teacher(os.path.join(root, opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    proc = run_cli(['-m', 'basicsr.train', '-opt', yml], cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exp_dir = os.path.join(root, 'experiments', opt['name'])
    return opt, exp_dir, experiment_log(exp_dir)


def experiment_log(exp_dir):
    """The text of an experiment folder's training logs, oldest first."""
    return '\n'.join(open(os.path.join(exp_dir, f)).read() for f in sorted(os.listdir(exp_dir)) if f.endswith('.log'))


def train_tiny_forked(runs):
    """:func:`train_tiny` for each ``(root, yml)`` of ``runs``, in children forked from one driver process, two at
    a time (tests/forked_training.py: one start-up for all; the command in a subprocess of its own is tested in
    test_train_cli.py).

    Returns, per run, a dict: ``opt``, ``exp_dir``, ``log`` as :func:`train_tiny` gives them, and ``teacher``
    (path) with ``teacher_bytes``, the teacher file as it was before training.
    """
    from forked_training import train_forked
    prepared = []
    for root, yml in runs:
        opt = load_yaml(yml)
        teacher = os.path.join(root, opt['path']['pretrain_network_g_teacher'])
        save_random_teacher(teacher, opt['network_g_teacher'])
        with open(teacher, 'rb') as handle:
            prepared.append(dict(opt=opt, exp_dir=os.path.join(root, 'experiments', opt['name']), teacher=teacher,
                                 teacher_bytes=handle.read()))
    for run, result in zip(prepared, train_forked([(root, ['-opt', yml]) for root, yml in runs])):
        assert result['returncode'] == 0, result['output'][-6000:]
        run['log'] = experiment_log(run['exp_dir'])
    return prepared
