"""Options are read once and resolved once; families answer for crop border, deploy fields and evaluation."""
import os
import re
from copy import deepcopy

import pytest

from helpers import REPO_ROOT, prepare_tiny_realesrgan_run, training_opt

from sdakd_basicsr.deploy.student import spec_from_training_options
from sdakd_basicsr.families import FAMILY_REGISTRY, build_family, family_for_generator
from sdakd_basicsr.metrics.evaluate import default_crop_border
from sdakd_basicsr.utils.options import load_options, resolve_options, write_options

SRVGG_TINY = os.path.join(REPO_ROOT, 'options', 'tests', 'sdakd_srvgg_tiny.yml')


def test_resolve_options_returns_a_resolved_copy_and_leaves_the_input_alone():
    opt = load_options(os.path.join(REPO_ROOT, 'options', 'sdakd_realesrgan_x4plus.yml'))
    opt.pop('network_g', None)
    opt.pop('network_d', None)
    before = deepcopy(opt)
    resolved, family = resolve_options(opt)
    assert opt == before  # nothing derived into the caller's dict
    assert 'network_g' not in opt and 'network_d' not in opt
    assert resolved['network_g']['type'] == opt['network_g_teacher']['type']
    assert resolved['network_d']['num_feat'] < opt['network_d_teacher']['num_feat']
    assert family.name == opt['sdakd']['family']


def test_the_model_resolves_its_own_copy_of_the_options(tmp_path, monkeypatch):
    from basicsr.models import build_model
    monkeypatch.chdir(tmp_path)
    opt = training_opt(prepare_tiny_realesrgan_run(str(tmp_path)), str(tmp_path))
    opt.pop('network_g', None)
    opt.pop('network_d', None)
    before = deepcopy(opt)
    model = build_model(opt)
    assert opt == before  # basicsr.train's dict is not filled in behind its back
    assert model.opt['network_g'] == resolve_options(before)[0]['network_g']


def test_write_options_round_trips_through_load_options(tmp_path):
    opt = load_options(SRVGG_TINY)
    write_options(opt, str(tmp_path / 'copy.yml'))
    assert load_options(str(tmp_path / 'copy.yml')) == opt
    with pytest.raises(FileNotFoundError, match='missing.yml'):
        load_options(str(tmp_path / 'missing.yml'))


@pytest.mark.parametrize('name, scale, expected', [('srvgg', 4, 4), ('realesrgan', 2, 2), ('gcfsr', 4, 0)])
def test_crop_border_follows_the_family(name, scale, expected):
    """SRVGG is an xN model like Real-ESRGAN: its border is the scale, not 0; GCFSR compares whole faces."""
    opt = {'scale': scale, 'val': {'metrics': {'psnr': {'type': 'calculate_psnr'}}}}
    assert default_crop_border(opt, build_family(name)) == expected
    opt['val']['metrics']['psnr']['crop_border'] = 3  # the option file wins
    assert default_crop_border(opt, build_family(name)) == 3


def test_srvgg_option_file_gets_a_crop_border_of_its_scale():
    opt, family = resolve_options(load_options(SRVGG_TINY))
    assert family.name == 'srvgg' and default_crop_border(dict(opt, val={}), family) == opt['scale'] > 0


def test_plain_basicsr_option_file_is_deployed_by_the_family_of_its_generator(tmp_path):
    opt = load_options(SRVGG_TINY)
    plain = {'name': 'plain', 'scale': 4, 'network_g': dict(opt['network_g_teacher'])}
    write_options(plain, str(tmp_path / 'plain.yml'))
    spec = spec_from_training_options(str(tmp_path / 'plain.yml'))
    assert spec.family == family_for_generator('SRVGGNetCompact') == 'srvgg'
    assert spec.scale == opt['network_g_teacher']['upscale'] and spec.cond_norm is None


def test_gcfsr_deploy_fields_are_a_condition_norm_not_a_scale():
    family = build_family('gcfsr')
    assert family.deploy_fields({'datasets': {'val': {'cond_norm': 16}}}) == {'cond_norm': 16}
    assert family.fixed_input_size({'out_size': 64}) == 64 and not family.dynamic_batch
    assert build_family('realesrgan').fixed_input_size({'type': 'RRDBNet'}) is None


def test_no_module_outside_families_branches_on_a_family_name():
    names = '|'.join(sorted(FAMILY_REGISTRY.keys()))
    branching = re.compile(rf"""(==|!=|\bin\b)\s*\(?['"]({names})['"]|['"]({names})['"]\s*(==|!=)""")
    root = os.path.join(REPO_ROOT, 'sdakd_basicsr')
    found = []
    for folder, _, files in os.walk(root):
        if os.path.basename(folder) == 'families':
            continue
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                found += [f'{path}:{i}' for i, line in enumerate(open(path), 1) if branching.search(line)]
    assert not found, f'family branching outside sdakd_basicsr/families: {found}'
