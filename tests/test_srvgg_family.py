"""The third teacher family, written as one file (sdakd_basicsr/families/srvgg.py) plus its option file."""
import os

import pytest
import torch

from helpers import REPO_ROOT, load_yaml, logged_losses
from sdakd_basicsr.families import build_family

TINY_SRVGG_YML = os.path.join(REPO_ROOT, 'options', 'tests', 'sdakd_srvgg_tiny.yml')


def test_srvgg_students_and_taps_match_the_teacher_layer_by_layer():
    from basicsr.archs import build_network
    family = build_family('srvgg')
    teacher_opt = load_yaml(TINY_SRVGG_YML)['network_g_teacher']
    student_opt = family.student_generator_opt(teacher_opt, 0.5)
    assert student_opt == dict(teacher_opt, num_feat=8)
    layers = family.default_feature_layers(teacher_opt)
    assert layers == ['body.3', 'body.5', 'body.7', 'body.9']  # 4 convs: the activation after each
    teacher, student = build_network(teacher_opt), build_network(student_opt)
    for name in layers:  # the names exist in both and are activations (PReLU) at LR size
        assert type(dict(teacher.named_modules())[name]).__name__ == 'PReLU'
        assert type(dict(student.named_modules())[name]).__name__ == 'PReLU'
    with pytest.raises(ValueError, match='SRVGGNetCompact'):
        family.student_generator_opt(dict(type='RRDBNet', num_feat=64), 0.5)


@pytest.mark.slow
def test_srvgg_family_runs_the_three_stages_through_basicsr_train(tiny_srvgg_runs):
    # trained through the command's own entry, forked, with test_srvgg_student.py's run (conftest.py)
    run = tiny_srvgg_runs['sdakd_srvgg_tiny']
    exp_dir, log = run['exp_dir'], run['log']
    for text in ("SDAKD stage 1/3 starts at iter 1: 'supervised'", "SDAKD stage 2/3 starts at iter 3: 'distill'",
                 "SDAKD stage 3/3 starts at iter 5: 'adversarial'", 'body.9: 8->16'):
        assert text in log
    losses = logged_losses(log)
    assert 'l_g_distill' not in losses[2] and 'l_g_distill' in losses[3] and 'l_g_gan' in losses[6]
    student = torch.load(os.path.join(exp_dir, 'models', 'net_g_latest.pth'))['params_ema']
    assert student['body.0.weight'].shape == (8, 3, 3, 3)  # half of the teacher's 16 features
    assert os.path.isfile(os.path.join(exp_dir, 'models', 'net_feat_adapters_latest.pth'))
    assert open(run['teacher'], 'rb').read() == run['teacher_bytes']  # the teacher file is never written
