"""GAN diagnostics: D win share per stage, G–D gap, and the LR | student | teacher | GT panel."""
import pytest
import torch

from sdakd_basicsr.utils.gan_diagnostics import DiscriminatorMonitor, grid_panel
from sdakd_basicsr.utils.grid import CAPTION_HEIGHT


def test_win_share_is_per_stage_over_a_window():
    monitor = DiscriminatorMonitor(window=4)
    results = [monitor.update('distill', 'd', real, fake, torch.tensor(1.0))
               for real, fake in ((1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (0.5, 0.0))]
    assert [round(float(r['diag_d_wins']), 4) for r in results] == [1.0, 1.0, 0.6667, 0.75]
    assert 'diag_d_gap' not in results[-1]  # no adversarial generator loss in this stage
    for real, fake in ((-1.0, 1.0), ) * 3:
        last = monitor.update('distill', 'd', real, fake, torch.tensor(1.0))
    assert float(last['diag_d_wins']) == 0.25  # only the last 4 D steps count
    entry = monitor.update('adversarial', 'd', 2.0, -2.0, torch.tensor(0.3), torch.tensor(1.2))
    assert float(entry['diag_d_wins']) == 1.0  # a new stage starts a new window
    assert float(entry['diag_d_gap']) == pytest.approx(0.9)
    assert set(monitor.update('adversarial', 'd_teacher', 0.0, 1.0, torch.tensor(0.0))) == {'diag_d_teacher_wins'}


def test_grid_panel_puts_the_images_side_by_side_under_captions():
    lq, student, teacher = torch.zeros(1, 3, 8, 8), torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    assert grid_panel(lq, student, teacher, None).shape == (32 + CAPTION_HEIGHT, 3 * 32 + 2 * 4, 3)
    panel = grid_panel(lq, student, teacher, torch.ones(1, 3, 32, 32))
    assert panel.shape == (32 + CAPTION_HEIGHT, 4 * 32 + 3 * 4, 3)
    frames = panel[CAPTION_HEIGHT:]
    assert frames[:, :32].max() == 0 and frames[:, -32:].min() == 255  # LR (zeros) first, GT (ones) last, whole
