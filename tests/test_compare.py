"""The demo's comparison step (python -m sdakd_basicsr.compare) on a tiny experiment with random weights."""
import os

import cv2
from helpers import TINY_REALESRGAN_YML, prepare_tiny_realesrgan_run, save_random_teacher

from sdakd_basicsr.compare import main as compare
from sdakd_basicsr.utils.grid import CAPTION_HEIGHT
from sdakd_basicsr.utils.options import load_resolved_options


def test_comparison_writes_the_report_tables_and_side_by_side_images(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prepare_tiny_realesrgan_run(str(tmp_path))
    opt, _ = load_resolved_options(TINY_REALESRGAN_YML)
    save_random_teacher(os.path.join('experiments', opt['name'], 'models', 'net_g_latest.pth'), opt['network_g'],
                        seed=1)
    rows, cost = compare(['-opt', TINY_REALESRGAN_YML, '--repeats', '1', '--device', 'cpu'])
    report = open(os.path.join('experiments', opt['name'], 'comparison', 'report.md')).read()
    assert '| image | PSNR to GT: bicubic | student | teacher | PSNR to teacher: bicubic | student ' in report
    assert '| teacher | ' in report and '| student | ' in report and '## Training stages' in report
    assert ('| image | frame excess (outer 4 px) | without pre-padding | mean student − teacher: R | G | B '
            '| mean bicubic − teacher: R | G | B |' in report) and 'mirrored outwards by 8 px' in report
    found, lines = rows[0]['artefacts'], report.splitlines()
    table_row = lines[next(i for i, line in enumerate(lines) if 'mean bicubic − teacher' in line) + 2]
    assert table_row.startswith('| a | ')
    assert len(table_row.strip('|').split('|')) == 9  # image, frame twice, three channels for student and bicubic
    assert len(found['bicubic_colour_offsets']) == 3
    assert '| image | mean student − GT: R | G | B | mean teacher − GT: R | G | B |' in report
    assert len(rows[0]['colour_to_gt']['student']) == len(rows[0]['colour_to_gt']['teacher']) == 3
    assert found['frame_excess'] != found['frame_excess_unpadded']  # both networks ran twice: padded and bare
    assert f'border of {opt["scale"]} pixels cropped' in report  # the evaluator's crop border
    assert [row['image'] for row in rows] == ['a'] and cost['student']['params'] < cost['teacher']['params']
    assert rows[0]['psnr_teacher'] > 0 and 'niqe_student' not in rows[0]  # 64 px: too small for NIQE
    panel = cv2.imread(rows[0]['panel'])
    assert panel.shape == (64 + CAPTION_HEIGHT, 4 * 64 + 3 * 4, 3)  # bicubic | student | teacher | GT, whole
