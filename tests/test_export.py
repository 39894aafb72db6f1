"""Student export: BasicSR .pth + card round trips, ONNX against PyTorch on a real photo, third-party loaders."""
import json
import os

import numpy as np
import pytest
import torch
import yaml

import sdakd_basicsr  # noqa: F401  (registers the archs)
from basicsr.archs import build_network
from basicsr.models.base_model import BaseModel

from helpers import REPO_ROOT, TINY_GCFSR_SDAKD_YML, TINY_REALESRGAN_YML, load_yaml, run_cli
from sdakd_basicsr.deploy.onnx_export import DeployGenerator, export_onnx, max_onnx_error, onnx_session, run_onnx
from sdakd_basicsr.deploy.student import card_path_for, export_pth, load_student, spec_from_training_options

#: |ONNX - PyTorch| accepted on a real photo (outputs of order 1; fp32 reassociation gives ~1e-6)
ONNX_TOLERANCE = 1e-4


def make_training_checkpoint(root, option_file, iteration=6, with_ema=True):
    """A checkpoint as SDAKDModel.save writes it: net_g_<iter>.pth with ``params`` and ``params_ema``.

    The two entries hold different random weights, so that tests can tell which one was loaded.
    """
    spec = spec_from_training_options(option_file)
    nets = {}
    for seed, key in enumerate(['params', 'params_ema'] if with_ema else ['params']):
        torch.manual_seed(seed)
        nets[key] = spec.build().eval()
    path = os.path.join(root, 'experiments', spec.source['name'], 'models', f'net_g_{iteration}.pth')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({key: net.state_dict() for key, net in nets.items()}, path)
    return path, nets


def photo_crop(top, left, height, width):
    """A crop of scikit-image's astronaut as (1, 3, h, w) RGB in [0, 1]."""
    import skimage.data
    crop = skimage.data.astronaut()[top:top + height, left:left + width]
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255


def photo_face(size, factor):
    """The astronaut's face at ``size`` px, bicubic-degraded ×``factor`` and back, in [-1, 1] (GCFSR input)."""
    import cv2
    import skimage.data
    face = cv2.resize(skimage.data.astronaut()[0:256, 96:352], (size, size), interpolation=cv2.INTER_AREA)
    small = cv2.resize(face, (size // factor, size // factor), interpolation=cv2.INTER_CUBIC)
    lq = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return torch.from_numpy(lq).permute(2, 0, 1)[None].float() / 127.5 - 1


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------------------- .pth export
def test_training_checkpoint_loads_ema_by_default_and_params_on_request(tmp_path):
    path, nets = make_training_checkpoint(str(tmp_path), TINY_REALESRGAN_YML)
    net, spec = load_student(path, TINY_REALESRGAN_YML)
    assert same_state(net.state_dict(), nets['params_ema'].state_dict())
    assert spec.source['param_key'] == 'params_ema'
    # the student is derived from network_g_teacher and sdakd.width (16 -> 8 features, growth 8 -> 4)
    assert (spec.network_g['num_feat'], spec.network_g['num_grow_ch'], spec.scale) == (8, 4, 4)
    net, spec = load_student(path, TINY_REALESRGAN_YML, param_key='params')
    assert same_state(net.state_dict(), nets['params'].state_dict())


def test_card_names_files_inside_the_working_directory_relative_to_it(tmp_path, monkeypatch):
    """A card exported in a repository and shipped with it must not carry the exporting machine's paths."""
    path, _ = make_training_checkpoint(str(tmp_path), TINY_REALESRGAN_YML)
    monkeypatch.chdir(tmp_path)
    _, spec = load_student(path, TINY_REALESRGAN_YML)
    assert spec.source['checkpoint'] == os.path.join('experiments', spec.source['name'], 'models', 'net_g_6.pth')
    assert spec.source['option_file'] == os.path.abspath(TINY_REALESRGAN_YML)  # outside: absolute
    monkeypatch.chdir(os.path.join(tmp_path, 'experiments'))
    assert load_student(path, TINY_REALESRGAN_YML)[1].source['checkpoint'] == os.path.join(
        spec.source['name'], 'models', 'net_g_6.pth')


def test_checkpoint_without_ema_names_the_flag(tmp_path):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_REALESRGAN_YML, with_ema=False)
    with pytest.raises(KeyError, match='--param-key'):
        load_student(path, TINY_REALESRGAN_YML)


def test_training_checkpoint_without_option_file_is_a_clear_error(tmp_path):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_REALESRGAN_YML)
    with pytest.raises(FileNotFoundError, match='option file'):
        load_student(path)


@pytest.mark.parametrize('option_file', [TINY_REALESRGAN_YML, TINY_GCFSR_SDAKD_YML])
def test_exported_pth_holds_the_generator_alone_and_loads_with_basicsr(tmp_path, option_file):
    path, nets = make_training_checkpoint(str(tmp_path), option_file)
    net, spec = load_student(path, option_file)
    out = str(tmp_path / 'exported' / 'student.pth')
    card_path = export_pth(net, spec, out)
    assert card_path == card_path_for(out) and os.path.isfile(card_path)

    saved = torch.load(out, map_location='cpu', weights_only=True)
    assert list(saved) == ['params']
    assert same_state(saved['params'], nets['params_ema'].state_dict())  # exactly the architecture's tensors

    # the card alone rebuilds the architecture; BasicSR's own loader reads the file under either key name
    card = yaml.safe_load(open(card_path))
    assert card['family'] == spec.family and card['network_g'] == spec.network_g
    for key in ('params', 'params_ema'):
        rebuilt = build_network(dict(card['network_g']))
        BaseModel.load_network(object.__new__(BaseModel), rebuilt, out, strict=True, param_key=key)
        assert same_state(rebuilt.state_dict(), nets['params_ema'].state_dict())
    # and the export loads back through load_student from its card, without the option file
    again, again_spec = load_student(out)
    assert same_state(again.state_dict(), net.state_dict()) and again_spec.network_g == spec.network_g


def test_gcfsr_card_keeps_cond_norm_and_no_scale(tmp_path):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_GCFSR_SDAKD_YML)
    net, spec = load_student(path, TINY_GCFSR_SDAKD_YML)
    card = yaml.safe_load(open(export_pth(net, spec, str(tmp_path / 'g.pth'))))
    assert card['cond_norm'] == 32 and 'scale' not in card
    assert card['value_range'] == [-1.0, 1.0] and card['inputs'] == ['lq', 'in_size']
    assert card['network_g']['narrow'] == pytest.approx(0.0625)


# ------------------------------------------------------------------------------------------- ONNX
@pytest.mark.slow
def test_onnx_realesrgan_student_dynamic_size_matches_pytorch_on_a_photo(tmp_path):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_REALESRGAN_YML)
    net, spec = load_student(path, TINY_REALESRGAN_YML)
    onnx_path = str(tmp_path / 'student.onnx')
    module = export_onnx(net, spec, onnx_path)
    session = onnx_session(onnx_path, threads=1)
    assert [i.name for i in session.get_inputs()] == ['input']
    # sizes other than the export's example (32 x 32), not square, batch 1 and 2
    for lr in (photo_crop(100, 200, 40, 56), torch.cat([photo_crop(0, 0, 64, 48), photo_crop(300, 300, 64, 48)])):
        error = max_onnx_error(session, module, lr)
        assert error < ONNX_TOLERANCE, error
        assert run_onnx(session, lr).shape == (lr.shape[0], 3, lr.shape[2] * 4, lr.shape[3] * 4)


@pytest.mark.slow
def test_onnx_real_rrdbnet_weights_match_pytorch_on_a_photo(tmp_path):
    """A trained RRDBNet (Real-ESRGAN's 6-block anime x4plus, converted from ncnn): real weights, real photo."""
    from sdakd_basicsr.deploy.student import StudentSpec
    from sdakd_basicsr.utils import ncnn_realesrgan as ncnn
    net = ncnn.load_ncnn_rrdbnet('x4plus_anime_6B').eval()
    opt = dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=64, num_block=6, num_grow_ch=32, scale=4)
    spec = StudentSpec('realesrgan', opt, scale=4)
    module = export_onnx(net, spec, str(tmp_path / 'anime6b.onnx'))
    error = max_onnx_error(onnx_session(str(tmp_path / 'anime6b.onnx'), threads=2), module,
                           photo_crop(100, 200, 48, 64))
    print(f'max |ONNX - PyTorch| for RRDBNet x4plus_anime_6B on the astronaut 48x64 crop: {error:.3g}')
    assert error < ONNX_TOLERANCE, error


@pytest.mark.slow
@pytest.mark.parametrize('blind', [False, True])
def test_onnx_gcfsr_student_takes_the_factor_as_input(tmp_path, blind):
    opt = load_yaml(TINY_GCFSR_SDAKD_YML)
    option_file = TINY_GCFSR_SDAKD_YML
    if blind:
        opt['network_g_teacher']['type'] = 'GCFSRBlindGenerator'
        option_file = str(tmp_path / 'blind.yml')
        with open(option_file, 'w') as handle:
            yaml.safe_dump(json.loads(json.dumps(opt)), handle)  # OrderedDicts as plain dicts
    path, _ = make_training_checkpoint(str(tmp_path), option_file)
    net, spec = load_student(path, option_file)
    onnx_path = str(tmp_path / 'gcfsr.onnx')
    module = export_onnx(net, spec, onnx_path)
    session = onnx_session(onnx_path, threads=1)
    names = [i.name for i in session.get_inputs()]
    assert names == (['input'] if blind else ['input', 'in_size'])
    faces = {f: photo_face(64, f) for f in (4, 8, 16)}
    errors = []
    for factor, face in faces.items():
        inputs = (face, ) if blind else (face, torch.full((1, 1), factor / 32))
        errors.append(max_onnx_error(session, module, *inputs))
        assert errors[-1] < ONNX_TOLERANCE, (factor, errors[-1])
    print(f'max |ONNX - PyTorch| for the GCFSR{" blind" if blind else ""} student on the face: {max(errors):.3g}')
    if not blind:  # the condition changes the result: it is a real input, not a constant folded in
        same_face = (faces[8], torch.full((1, 1), 4 / 32)), (faces[8], torch.full((1, 1), 16 / 32))
        assert (run_onnx(session, *same_face[0]) - run_onnx(session, *same_face[1])).abs().max() > 1e-3
    assert session.get_inputs()[0].shape == [1, 3, 64, 64]  # batch 1: see sdakd_basicsr.deploy.onnx_export


def test_deploy_generator_is_deterministic_for_gcfsr(tmp_path):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_GCFSR_SDAKD_YML)
    net, spec = load_student(path, TINY_GCFSR_SDAKD_YML)
    from sdakd_basicsr.archs.gcfsr_arch import StyleConv
    for layer in net.modules():  # noise strengths start at 0; trained ones are not
        if isinstance(layer, StyleConv):
            layer.weight.data.fill_(0.5)
    module = DeployGenerator(net, spec.family_adapter).eval()
    face, cond = photo_face(64, 8), torch.full((1, 1), 0.25)
    with torch.no_grad():
        assert torch.equal(module(face, cond), module(face, cond))  # stored noise, not fresh draws
        assert not torch.equal(net(face, cond)[0], net(face, cond)[0])  # the raw generator draws noise


@pytest.mark.slow
def test_export_script_writes_pth_onnx_and_checks_them(tmp_path):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_GCFSR_SDAKD_YML)
    out = str(tmp_path / 'out' / 'gcfsr_student')
    done = run_cli([os.path.join(REPO_ROOT, 'scripts', 'export_student.py'), '--model', path, '--opt',
                    TINY_GCFSR_SDAKD_YML, '--out', out, '--onnx'], str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    for suffix in ('.pth', '.yml', '.onnx'):
        assert os.path.isfile(out + suffix)
    assert report['onnx_max_abs_error'] < report['tolerance'] == 1e-3
    assert report['source']['param_key'] == 'params_ema' and report['check_input'] == [1, 3, 64, 64]


# ------------------------------------------------------------------------------------------- third-party
@pytest.fixture
def spandrel():
    return pytest.importorskip('spandrel', reason='spandrel (the loader of chaiNNer / ComfyUI) is not installed; '
                               'pip install spandrel==0.4.2 to run the third-party loader tests')


def _export_rrdb(tmp_path, **student):
    from sdakd_basicsr.deploy.student import StudentSpec
    opt = dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_block=2, scale=4, **student)
    torch.manual_seed(0)
    net = build_network(dict(opt)).eval()
    out = str(tmp_path / f'rrdb_{student["num_feat"]}_{student["num_grow_ch"]}.pth')
    export_pth(net, StudentSpec('realesrgan', opt, scale=4), out)
    return net, out


def test_spandrel_loads_rrdb_students_with_growth_32(tmp_path, spandrel):
    net, out = _export_rrdb(tmp_path, num_feat=32, num_grow_ch=32)  # sdakd.scale_grow_ch: false at width 1/2
    model = spandrel.ModelLoader().load_from_file(out)
    assert model.scale == 4
    lr = photo_crop(100, 200, 24, 24)
    with torch.no_grad():
        assert torch.allclose(model.model.eval()(lr), net(lr), atol=1e-6)


@pytest.mark.parametrize('num_feat,num_grow_ch', [(32, 16), (16, 8), (8, 4)])
def test_spandrel_refuses_rrdb_students_with_scaled_growth(tmp_path, spandrel, num_feat, num_grow_ch):
    _, out = _export_rrdb(tmp_path, num_feat=num_feat, num_grow_ch=num_grow_ch)  # the default students
    with pytest.raises(RuntimeError, match='size mismatch'):
        spandrel.ModelLoader().load_from_file(out)


def test_spandrel_does_not_know_gcfsr(tmp_path, spandrel):
    path, _ = make_training_checkpoint(str(tmp_path), TINY_GCFSR_SDAKD_YML)
    net, spec = load_student(path, TINY_GCFSR_SDAKD_YML)
    out = str(tmp_path / 'gcfsr.pth')
    export_pth(net, spec, out)
    with pytest.raises(spandrel.UnsupportedModelError):
        spandrel.ModelLoader().load_from_file(out)
