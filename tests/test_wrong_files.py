"""Export, inference and evaluation given another file of the experiment than the generator (a training state, an
optimizer state, a discriminator, the adapters) say what the file is and which one to pass; nonsense arguments
are refused by the argument parser, naming the flag."""
import copy
import os

import pytest
import torch

from basicsr.models import build_model

import sdakd_basicsr  # noqa: F401
from helpers import TINY_REALESRGAN_YML, load_yaml, save_random_teacher, training_opt
from sdakd_basicsr import inference
from sdakd_basicsr.deploy.student import load_student


@pytest.fixture(scope='module')
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp('wrong_files')
    opt = load_yaml(TINY_REALESRGAN_YML)
    save_random_teacher(str(root / opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    opt = training_opt(opt, str(root), train_type='PairedImageDataset')
    model = build_model(copy.deepcopy(opt))
    model.save(0, 2)
    torch.save(model.optimizer_g.state_dict(), str(root / 'optimizer_g.pth'))
    torch.save(torch.load(os.path.join(opt['path']['models'], 'net_d_2.pth')), str(root / 'some_file.pth'))
    return opt['path'], root


@pytest.mark.parametrize('name, words', [
    ('training_states/2.state', 'is a training state'),
    ('models/net_d_2.pth', 'holds the student discriminator (used only in training), not the generator'),
    ('models/net_feat_adapters_2.pth', 'holds the feature adapters'),
])
def test_experiment_files_name_the_generator_to_pass(experiment, name, words):
    paths, _ = experiment
    path = os.path.join(paths['experiments_root'], name)
    with pytest.raises(ValueError) as info:
        load_student(path, TINY_REALESRGAN_YML)
    message = str(info.value)
    assert words in message and path in message
    assert f'Pass the generator of the same iteration instead: {paths["models"]}/net_g_2.pth' in message
    assert 'params_ema' in message and 'weights_only' not in message


@pytest.mark.parametrize('name, words', [('optimizer_g.pth', 'is an optimizer state'),
                                         ('some_file.pth', "is a discriminator's weights")])
def test_files_are_recognised_by_content_too(experiment, name, words):
    _, root = experiment
    with pytest.raises(ValueError) as info:
        load_student(str(root / name), TINY_REALESRGAN_YML)
    assert words in str(info.value) and 'experiments/<name>/models/net_g_<iter>.pth' in str(info.value)


def test_the_generator_still_loads(experiment):
    paths, _ = experiment
    net, _ = load_student(os.path.join(paths['models'], 'net_g_2.pth'), TINY_REALESRGAN_YML)
    assert net.conv_first.weight.shape[0] == 8


BASE = ['-i', 'in.png', '-o', 'out', '--model', 'm.pth']


@pytest.mark.parametrize('extra, words', [
    (['--tile', '-5'], 'argument --tile: -5 is not a non-negative integer'),
    (['--tile', 'big'], "argument --tile: 'big' is not an integer"),
    (['--tile', '64', '--tile-overlap', '64'], '--tile-overlap 64 must be smaller than --tile 64'),
    (['--tile-overlap', '-1'], 'argument --tile-overlap: -1 is not a non-negative integer'),
    (['--threads', '0'], 'argument --threads: 0 is not a positive integer'),
    (['--outscale', '0'], 'argument --outscale: 0 is not a positive number'),
    (['--factor', '-2'], 'argument --factor: -2 is not a positive number'),
    (['--factor-range', '32', '4'], '--factor-range 32 4: the first value must not exceed the second'),
])
def test_nonsense_arguments_are_refused_as_such(extra, words, capsys):
    with pytest.raises(SystemExit) as info:
        inference.parse_args(BASE + extra)
    assert info.value.code == 2
    assert words in capsys.readouterr().err


def test_sensible_arguments_pass():
    args = inference.parse_args(BASE + ['--tile', '0', '--tile-overlap', '32'])  # no tiling: overlap unused
    assert args.tile == 0
    assert inference.parse_args(BASE + ['--tile', '128', '--tile-overlap', '16']).tile_overlap == 16
