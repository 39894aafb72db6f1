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
    resolve_network_options(opt, family)
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
