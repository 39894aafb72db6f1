"""The weight table and its offline check: every file the project reads is listed, and a damaged file is caught."""
import glob
import hashlib
import os
import re

import pytest

from helpers import REPO_ROOT
from sdakd_basicsr import check_weights
from sdakd_basicsr.check_weights import WEIGHTS, Weight, check


def by_name():
    return {w.name: w for w in WEIGHTS}


def test_every_weight_file_an_option_file_names_is_in_the_table():
    named = set()
    for path in glob.glob(os.path.join(REPO_ROOT, 'options', '**', '*.yml'), recursive=True):
        if os.sep + 'tests' + os.sep in path:
            continue
        with open(path) as handle:
            named.update(re.findall(r'experiments/pretrained_models/([\w.-]+\.pth)', handle.read()))
    assert named and named <= set(by_name())


def test_the_metrics_and_faces_read_the_listed_files():
    from sdakd_basicsr.deploy.faces import DETECTOR_FILES, PARSER_FILE
    from sdakd_basicsr.metrics.fid import FID_WEIGHTS_FILE
    from sdakd_basicsr.metrics.lpips_metric import BACKBONE_FILES
    for name in (FID_WEIGHTS_FILE, BACKBONE_FILES['alex'], DETECTOR_FILES['retinaface_resnet50'], PARSER_FILE):
        assert name in by_name()
    # torch.hub names carry the SHA-256 prefix: the stored hash must agree with it
    for weight in WEIGHTS:
        match = re.search(r'-([0-9a-f]{8})\.pth$', weight.name)
        if match and weight.sha256:
            assert weight.sha256.startswith(match.group(1)), weight.name


def test_the_docs_table_matches_the_package():
    with open(os.path.join(REPO_ROOT, 'docs', 'weights.md')) as handle:
        docs = handle.read()
    for weight in WEIGHTS:
        row = next(line for line in docs.splitlines() if line.startswith(f'| `{weight.name}` |'))
        assert (weight.sha256 or 'not established') in row and (weight.url or 'made locally') in row
        assert weight.licence in row
    assert 'RealESRGAN_x4plus_netD.pth' in docs and 'teacher-D baseline' in docs


def test_check_reports_ok_prefix_missing_and_corrupt(tmp_path):
    data = b'weights'
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / 'full.pth').write_bytes(data)
    (tmp_path / 'short.pth').write_bytes(data)
    (tmp_path / 'bad.pth').write_bytes(data + b'!')
    folders = {'models': str(tmp_path)}
    assert check(Weight('full.pth', 'models', None, digest, '', ''), folders)[0] == 'ok'
    assert check(Weight('short.pth', 'models', None, digest[:8], '', ''), folders)[0] == 'ok (prefix)'
    assert check(Weight('bad.pth', 'models', None, digest, '', ''), folders)[0].startswith('CORRUPT')
    assert check(Weight('none.pth', 'models', None, digest, '', ''), folders)[0] == 'missing'


def test_command_exits_1_only_for_a_damaged_file(tmp_path, capsys):
    models, hub, faces = (tmp_path / name for name in ('models', 'hub', 'faces'))
    for folder in (models, hub, faces):
        folder.mkdir()
    args = ['--models-dir', str(models), '--hub-dir', str(hub), '--face-dir', str(faces)]
    assert check_weights.main(args) == 0  # nothing there: reported, not an error
    assert capsys.readouterr().out.count('| missing |') == len(WEIGHTS)
    (models / 'RealESRGAN_x4plus.pth').write_bytes(b'an interrupted download')
    (hub / 'alexnet-owt-7be5be79.pth').write_bytes(b'x')
    assert check_weights.main(args) == 1
    out = capsys.readouterr().out
    assert re.search(r'\| RealESRGAN_x4plus.pth \| CORRUPT \(sha256 [0-9a-f]{64}\) \|', out)
    assert '| alexnet-owt-7be5be79.pth | CORRUPT' in out


@pytest.mark.parametrize('name', ['RealESRGAN_x4plus_netD.pth'])
def test_a_file_without_an_established_hash_is_reported_as_present(tmp_path, name):
    (tmp_path / name).write_bytes(b'd')
    assert check(by_name()[name], {'models': str(tmp_path)})[0] == 'present (no hash established)'
