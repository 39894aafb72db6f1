"""Every shipped option file parses, its schedule and losses are valid, its networks build, and the generated
ones equal what the method table generates."""
import glob
import json
import os
import shutil

import pytest
import torch

import sdakd_basicsr  # noqa: F401
from basicsr.archs import build_network
from basicsr.losses import build_loss
from helpers import REPO_ROOT, load_yaml
from sdakd_basicsr import make_options
from sdakd_basicsr.families import build_family
from sdakd_basicsr.models.sdakd_model import resolve_network_options
from sdakd_basicsr.models.stages import parse_stages

OPTION_FILES = sorted(glob.glob(os.path.join(REPO_ROOT, 'options', '**', '*.yml'), recursive=True))
SDAKD_FILES = [p for p in OPTION_FILES if load_yaml(p).get('model_type') == 'SDAKDModel']


def test_generated_files_equal_what_the_method_table_generates():
    assert make_options.write_generated(check=True) == []


def test_check_lists_a_stale_generated_file_and_writing_fixes_it(tmp_path, capsys):
    shutil.copytree(os.path.join(REPO_ROOT, 'options'), tmp_path / 'options')
    shutil.copytree(os.path.join(REPO_ROOT, 'docs'), tmp_path / 'docs')
    stale = tmp_path / 'options' / 'ablations' / 'gcfsr_w0.5_no_feature_kd.yml'
    stale.write_text(stale.read_text().replace('d_warmup', 'warmup'))
    (tmp_path / 'docs' / 'baselines.md').write_text((tmp_path / 'docs' / 'baselines.md').read_text().replace(
        'adversarial gradient from D_S in stage 2', 'something else'))
    expected = ['options/ablations/gcfsr_w0.5_no_feature_kd.yml', 'docs/baselines.md']
    assert make_options.write_generated(check=True, repo=str(tmp_path)) == expected
    assert make_options.write_generated(repo=str(tmp_path)) == expected
    assert make_options.write_generated(check=True, repo=str(tmp_path)) == []
    assert 'd_warmup' in stale.read_text()


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


def _network_and_loss_options():
    """{JSON of one network or loss option block: the first 'file: key' using it}, over every option file."""
    blocks = {}
    for path in OPTION_FILES:
        opt = load_yaml(path)
        if opt.get('model_type') == 'SDAKDModel':
            resolve_network_options(opt, build_family(opt['sdakd']['family']))
        named = [(k, v) for k, v in opt.items() if k.startswith('network_') and k != 'network_feat_adapters']
        named += [(f'train.{k}', v) for k, v in (opt.get('train') or {}).items() if k.endswith('_opt')]
        for key, block in named:
            if block:
                blocks.setdefault(json.dumps(block, sort_keys=True), f'{os.path.relpath(path, REPO_ROOT)}: {key}')
    return blocks


def test_every_network_and_loss_of_every_option_file_builds():
    """Built on the meta device (no memory, no weights); the perceptual loss is built without its VGG file."""
    blocks = _network_and_loss_options()
    assert len(blocks) > 10
    for text, where in blocks.items():
        block = json.loads(text)
        try:
            with torch.device('meta'):
                if where.split(': ')[1].startswith('network_'):
                    build_network(block)
                elif block['type'] == 'OfflinePerceptualLoss':
                    with pytest.raises(FileNotFoundError, match='nothing is downloaded'):
                        build_loss(dict(block, vgg_weights_path='missing.pth'))
                else:
                    build_loss(block)
        except Exception as error:
            raise AssertionError(f'{where} does not build: {error}') from error


def test_expected_experiments_are_shipped_and_follow_their_method():
    paths = {os.path.relpath(p, REPO_ROOT) for p in SDAKD_FILES}
    for required in ('options/sdakd_realesrgan_x4plus.yml', 'options/demo/sdakd_realesrgan_x4plus_demo.yml',
                     'options/sdakd_gcfsr.yml', 'options/sdakd_gcfsr_w0.25.yml', 'options/sdakd_gcfsr_w0.125.yml'):
        assert required in paths
    for tag in ('realesrgan_x4plus', 'gcfsr'):
        for method in make_options.METHODS.values():
            path = f'options/{method.kind}s/{tag}_w0.5_{method.name}.yml'
            if method.kind != 'method' and method.name != 'no_kd_halves' and (tag, method.name) != ('gcfsr',
                                                                                                    'teacher_d'):
                assert path in paths
    teacher_d = load_yaml(os.path.join(REPO_ROOT, 'options/baselines/realesrgan_x4plus_w0.5_teacher_d.yml'))
    stages = parse_stages(teacher_d['train'], has_teacher_d=True)
    assert [s.train_d for s in stages] == [None, 'teacher', 'teacher']
    assert teacher_d['path']['pretrain_network_d_teacher'].endswith('RealESRGAN_x4plus_netD.pth')


def test_sweep_writes_methods_times_widths_times_seeds_and_prints_the_commands(tmp_path, capsys):
    out = str(tmp_path / 'sw')
    assert make_options.main(['sweep', '-opt', os.path.join(REPO_ROOT, 'options', 'sdakd_realesrgan_x4plus.yml'),
                              '--methods', 'sdakd', 'omgd', 'no_kd', '--widths', '0.25', '0.125', '--seeds', '0', '1',
                              '--total-iter', '40', '--batch-size', '2', '--name', 'sw', '--out', out,
                              '--launcher', 'nice']) == 0
    commands = capsys.readouterr().out.strip().splitlines()
    experiments = json.load(open(os.path.join(out, 'sweep.json')))['experiments']
    assert len(experiments) == len(commands) == 12
    assert commands[0] == f'nice python -m basicsr.train -opt {out}/sw_sdakd_w0.25_s0.yml'
    assert [e['seed'] for e in experiments[:6]] == [0] * 6  # seed-major
    by_name = {e['name']: e for e in experiments}
    assert set(by_name) >= {'sw_sdakd_w0.25_s0', 'sw_omgd_w0.125_s1', 'sw_no_kd_w0.25_s1'}
    for exp in experiments:
        opt = load_yaml(exp['option'])
        assert opt['name'] == exp['name'] and opt['manual_seed'] == exp['seed']
        assert opt['sdakd']['width'] == exp['width'] and opt['datasets']['train']['batch_size_per_gpu'] == 2
        stages = parse_stages(opt['train'], has_teacher_d=True)
        assert stages[-1].last_iter == opt['train']['total_iter'] == 40
        assert opt['val']['val_freq'] == opt['logger']['save_checkpoint_freq'] == 40
        resolve_network_options(opt, build_family('realesrgan'))  # raises on a bad student
    assert [len(parse_stages(load_yaml(os.path.join(out, f'sw_{m}_w0.25_s0.yml'))['train'])) for m in
            ('sdakd', 'omgd', 'no_kd')] == [3, 1, 2]


def test_a_method_changes_what_it_names_and_leaves_the_source_alone():
    from sdakd_basicsr.methods import make_variant
    source = load_yaml(os.path.join(REPO_ROOT, 'options', 'demo', 'sdakd_realesrgan_x4plus_demo.yml'))
    before = json.dumps(source)
    sdakd = make_variant(source, 'sdakd', total_iter=30)
    assert [(s['iters'], s['losses']) for s in sdakd['train']['stages']] == [
        (14, ['pixel', 'output_distill', 'colour_distill']),
        (10, ['pixel', 'distill', 'output_distill', 'colour_distill']),
        (6, ['pixel', 'distill', 'output_distill', 'colour_distill', 'gan'])]
    assert sdakd['train']['scheduler']['milestones'] == [18, 24, 27]  # the learning-rate steps follow the new budget
    halves = make_variant(source, 'no_kd_halves')  # no teacher signal: the source's stage-1 output_distill goes
    half = source['train']['total_iter'] // 2
    assert [(s['iters'], s['losses'], s.get('train_d')) for s in halves['train']['stages']] == [
        (half, ['pixel'], None), (half, ['pixel', 'gan'], 'student')]
    assert json.dumps(source) == before
    with pytest.raises(ValueError, match='unknown method'):
        make_variant(source, 'sdakd_v2')
