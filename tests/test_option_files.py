"""Every shipped option file parses, its schedule is valid and its students can be derived."""
import glob
import os

import pytest

import sdakd_basicsr  # noqa: F401
from helpers import REPO_ROOT, load_yaml
from sdakd_basicsr.families import build_family
from sdakd_basicsr.models.sdakd_model import resolve_network_options
from sdakd_basicsr.models.stages import parse_stages

OPTION_FILES = sorted(glob.glob(os.path.join(REPO_ROOT, 'options', '**', '*.yml'), recursive=True))
SDAKD_FILES = [p for p in OPTION_FILES if load_yaml(p).get('model_type') == 'SDAKDModel']


def test_generated_variants_are_up_to_date():
    import runpy
    script = runpy.run_path(os.path.join(REPO_ROOT, 'scripts', 'make_option_variants.py'))
    assert script['main'](['--check']) == []


@pytest.mark.parametrize('path', SDAKD_FILES, ids=lambda p: os.path.relpath(p, REPO_ROOT))
def test_sdakd_option_file(path):
    opt = load_yaml(path)
    family = build_family(opt['sdakd']['family'])
    opt = resolve_network_options(opt, family)
    stages = parse_stages(opt['train'], has_teacher_d=opt.get('network_d_teacher') is not None)
    assert stages[-1].last_iter == int(opt['train']['total_iter'])
    # students: the teacher's architecture, or SRVGGNetCompact (docs/srvgg_student.md)
    assert opt['network_g']['type'] in (opt['network_g_teacher']['type'], 'SRVGGNetCompact')
    assert opt['logger']['save_checkpoint_freq'] > 0
    assert any(phase.split('_')[0] == 'val' for phase in opt['datasets'])
    for stage in stages:  # a stage using D_T needs its weights
        if 'teacher' in (stage.train_d, stage.adv_d):
            assert opt['path'].get('pretrain_network_d_teacher'), path


def test_expected_experiments_are_shipped():
    names = {os.path.relpath(p, REPO_ROOT) for p in SDAKD_FILES}
    for required in ('options/sdakd_realesrgan_x4plus.yml', 'options/demo/sdakd_realesrgan_x4plus_demo.yml',
                     'options/baselines/realesrgan_x4plus_w0.5_teacher_d.yml',
                     'options/ablations/realesrgan_x4plus_w0.5_conv1x1_adapter.yml', 'options/sdakd_gcfsr.yml',
                     'options/sdakd_gcfsr_w0.25.yml', 'options/sdakd_gcfsr_w0.125.yml'):
        assert required in names


def test_sweep_writes_methods_times_widths_times_seeds_and_prints_the_commands(tmp_path, capsys):
    import runpy
    sweep = runpy.run_path(os.path.join(REPO_ROOT, 'scripts', 'make_sweep.py'))
    experiments = sweep['main'](['-opt', os.path.join(REPO_ROOT, 'options', 'sdakd_realesrgan_x4plus.yml'),
                                 '--methods', 'sdakd', 'omgd', 'no_kd', '--widths', '0.25', '0.125',
                                 '--seeds', '0', '1', '--total-iter', '40', '--batch-size', '2', '--name', 'sw',
                                 '--out', str(tmp_path), '--launcher', 'flock /tmp/lock'])
    commands = capsys.readouterr().out.strip().splitlines()
    assert len(experiments) == len(commands) == 12
    assert commands[0].startswith('flock /tmp/lock python -m basicsr.train -opt ')
    assert [e['seed'] for e in experiments[:6]] == [0] * 6  # seed-major
    by_name = {e['name']: e for e in experiments}
    assert set(by_name) >= {'sw_sdakd_w0.25_s0', 'sw_omgd_w0.125_s1', 'sw_no_kd_w0.25_s1'}
    for exp in experiments:
        opt = load_yaml(os.path.join(REPO_ROOT, exp['option']))
        assert opt['name'] == exp['name'] and opt['manual_seed'] == exp['seed']
        assert opt['sdakd']['width'] == exp['width'] and opt['datasets']['train']['batch_size_per_gpu'] == 2
        stages = parse_stages(opt['train'], has_teacher_d=True)
        assert stages[-1].last_iter == opt['train']['total_iter'] == 40
        assert opt['val']['val_freq'] == opt['logger']['save_checkpoint_freq'] == 40
        resolve_network_options(opt, build_family('realesrgan'))  # raises on a bad student
    assert [len(parse_stages(load_yaml(str(tmp_path / f'sw_{m}_w0.25_s0.yml'))['train'])) for m in
            ('sdakd', 'omgd', 'no_kd')] == [3, 1, 2]
    assert os.path.isfile(tmp_path / 'sweep.json')
