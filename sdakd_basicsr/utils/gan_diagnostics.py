"""What a GAN user watches during training: discriminator logits, the G–D loss gap, how often D wins, and
side-by-side validation grids (LR | student | teacher | GT).

Both are used by :class:`~sdakd_basicsr.models.sdakd_model.SDAKDModel`; the log keys land in BasicSR's log lines
and tensorboard like every other entry of ``log_dict``.
"""
import os
from collections import deque

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from basicsr.utils import tensor2img

from sdakd_basicsr.utils.grid import side_by_side


class DiscriminatorMonitor:
    """Running statistics of one discriminator within the current stage.

    Per D step (:meth:`update`) it returns, for the prefix ``d`` (D_S) or ``d_teacher`` (D_T):

    - ``diag_<prefix>_wins``: share of the last ``window`` D steps of this stage in which D separated the batch,
      i.e. its mean logit on real images was above its mean logit on generated ones (1.0 = D always ahead,
      around 0.5 = balanced, near 0 = the generator fools it);
    - ``diag_<prefix>_gap``: G–D loss gap, the generator's adversarial loss minus D's loss on real + fake, when the
      generator got adversarial gradient from this D in the same iteration.

    The mean real and fake logits themselves are logged by the model as ``out_<prefix>_real`` / ``_fake``.

    Args:
        window (int): Number of recent D steps in the win share. Default: 100.
    """

    def __init__(self, window=100):
        self.window = window
        self.stage = None
        self.history = {}

    def update_from_losses(self, stage, d_losses, l_g_gan=None):
        """:meth:`update` from the entries of ``SDAKDModel._optimize_discriminator`` for the D that ``stage`` trains.

        The gap is reported only when the generator's adversarial loss ``l_g_gan`` came from that same D.
        """
        prefix = 'd' if stage.train_d == 'student' else 'd_teacher'
        l_d = d_losses[f'l_{prefix}_real'] + d_losses[f'l_{prefix}_fake']
        return self.update(stage.name, prefix, d_losses[f'out_{prefix}_real'], d_losses[f'out_{prefix}_fake'], l_d,
                           l_g_gan if stage.adv_d == stage.train_d else None)

    def update(self, stage_name, prefix, real_logit, fake_logit, l_d, l_g_gan=None):
        if stage_name != self.stage:  # a new stage starts with an empty window
            self.stage, self.history = stage_name, {}
        wins = self.history.setdefault(prefix, deque(maxlen=self.window))
        wins.append(float(real_logit) > float(fake_logit))
        entries = {f'diag_{prefix}_wins': torch.tensor(sum(wins) / len(wins))}
        if l_g_gan is not None:
            entries[f'diag_{prefix}_gap'] = (l_g_gan.detach() - l_d.detach()).float()
        return entries


def grid_panel(lq, student, teacher, gt):
    """One uint8 BGR image: LR (nearest-upsampled to the output size) | student | teacher | GT, captioned.

    All inputs are (1, 3, H, W) tensors in [0, 1]; ``teacher`` or ``gt`` may be None (left out).
    """
    size = student.shape[-2:]
    tiles = {'LR': F.interpolate(lq.float(), size=size, mode='nearest'), 'student': student, 'teacher': teacher,
             'GT': gt}
    return side_by_side([(text, tensor2img(t.float().clamp(0, 1).cpu())) for text, t in tiles.items() if t is not None])


def write_validation_grids(model, dataloader, current_iter, tb_logger, max_images):
    """Grids of the first ``max_images`` validation images: ``<visualization>/grids/<iter>/<set>/`` and tensorboard.

    Args:
        model (SDAKDModel): Supplies ``feed_data``, ``test``, ``family``, ``net_g_teacher`` and the options.
        dataloader: A validation data loader (batch size 1).
        current_iter (int): Training iteration (folder name and tensorboard step).
        tb_logger: BasicSR's tensorboard SummaryWriter, or None.
        max_images (int): How many validation images get a grid.

    Returns:
        list[str]: The written PNG files.
    """
    from sdakd_basicsr.models.exact_resume import get_rng_states, set_rng_states
    states = get_rng_states()  # iterating a data loader draws from torch's RNG: keep resumed runs exact
    try:
        return _write_grids(model, dataloader, current_iter, tb_logger, max_images)
    finally:
        set_rng_states(states)


def _write_grids(model, dataloader, current_iter, tb_logger, max_images):
    dataset_name = dataloader.dataset.opt.get('name', 'val')
    folder = os.path.join(model.opt['path']['visualization'], 'grids', str(current_iter), dataset_name)
    os.makedirs(folder, exist_ok=True)
    family, written = model.family, []
    # the teacher is frozen: its output for a validation input is computed once per run
    teacher_outputs = model.__dict__.setdefault('_grid_teacher_outputs', {})
    for index, data in enumerate(dataloader):
        if index >= max_images:
            break
        model.feed_data(data)
        model.test()
        source = data.get('lq_path', data.get('gt_path', [f'{index}']))[0]
        key = (dataset_name, source, tuple(model.lq.shape), model.lq.double().sum().item())
        if key not in teacher_outputs:
            with torch.no_grad():
                teacher_outputs[key] = family.generate(model.net_g_teacher, model.inputs).detach().cpu()
        teacher = teacher_outputs[key]
        unit = family.to_unit_range
        gt = unit(model.gt.detach().cpu()) if hasattr(model, 'gt') else None
        panel = grid_panel(unit(model.lq.detach().cpu()), unit(model.output.detach().cpu()), unit(teacher), gt)
        name = os.path.splitext(os.path.basename(source))[0]
        out_file = os.path.join(folder, f'{name}_lr_student_teacher_gt.png')
        cv2.imwrite(out_file, panel)
        written.append(out_file)
        if tb_logger is not None:
            rgb = torch.from_numpy(np.ascontiguousarray(panel[..., ::-1])).permute(2, 0, 1)
            tb_logger.add_image(f'val_grid/{dataset_name}/{name}', rgb, current_iter)
    return written
