"""The SDAKD schedule as data: ``train.stages`` parsed into :class:`Stage` objects and checked up front."""
import difflib
from dataclasses import dataclass, field

from sdakd_basicsr.losses.terms import LOSS_TERMS

DISCRIMINATORS = ('student', 'teacher')
STAGE_KEYS = ('name', 'iters', 'losses', 'train_d', 'adv_d')

EXAMPLE_STAGES = """  stages:
    - {name: supervised,  iters: 100000, losses: [pixel, perceptual]}
    - {name: distill,     iters: 100000, losses: [pixel, perceptual, distill], train_d: student}
    - {name: adversarial, iters: 200000, losses: [pixel, perceptual, distill, gan], train_d: student}"""


@dataclass(frozen=True)
class Stage:
    """One stage of the schedule.

    Attributes:
        index (int): 0-based position in ``train.stages``.
        name (str): Shown in the log when the stage starts.
        first_iter / last_iter (int): 1-based iteration range, both inclusive.
        losses (dict[str, float]): Active generator losses and their multipliers (applied on top of each
            loss's own ``loss_weight``).
        train_d (str | None): Discriminator updated in this stage: ``student`` (D_S), ``teacher`` (D_T) or None.
        adv_d (str | None): Discriminator that gives the generator its adversarial gradient when ``gan`` is
            among the losses. Default: the stage's ``train_d``.
    """
    index: int
    name: str
    first_iter: int
    last_iter: int
    losses: dict = field(hash=False)
    train_d: str = None
    adv_d: str = None

    @property
    def needs_teacher_output(self):
        return any(LOSS_TERMS[name].uses_teacher for name in self.losses)

    def describe(self):
        losses = ', '.join(f'{k}×{v:g}' for k, v in self.losses.items())
        d = f'D trained: {self.train_d or "none"}'
        if 'gan' in self.losses:
            d += f', adversarial gradient from: {self.adv_d}'
        return f"'{self.name}' (iters {self.first_iter}-{self.last_iter}; losses: {losses}; {d})"


def _parse_losses(raw, where):
    if isinstance(raw, (list, tuple)):
        losses = {name: 1.0 for name in raw}
    elif isinstance(raw, dict):
        losses = {name: float(weight) for name, weight in raw.items()}
    else:
        raise ValueError(f'{where}.losses must be a list of loss names or a mapping name: weight, got {raw!r}')
    for name in losses:
        if name not in LOSS_TERMS:
            close = difflib.get_close_matches(str(name), list(LOSS_TERMS), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ''
            raise ValueError(f'{where}.losses: unknown loss {name!r}; {hint}choose from {list(LOSS_TERMS)} (a new loss '
                             'is a registered term, see sdakd_basicsr/losses/terms.py)')
    return losses


def _parse_discriminator(value, where, key):
    if value in (None, False, 'none', 'None'):
        return None
    if value not in DISCRIMINATORS:
        raise ValueError(f'{where}.{key}={value!r}: choose student, teacher or none')
    return value


def parse_stages(train_opt, has_teacher_d=False):
    """Parse and check ``train.stages``; every error names the option to fix.

    Args:
        train_opt (dict): The ``train`` block of the options.
        has_teacher_d (bool): Whether ``network_d_teacher`` is configured.

    Returns:
        list[Stage]: In order, covering iterations 1..``train.total_iter`` exactly.
    """
    raw_stages = train_opt.get('stages')
    if not raw_stages:
        raise ValueError('train.stages is missing: SDAKD needs its schedule, e.g.\n' + EXAMPLE_STAGES)
    stages, next_iter = [], 1
    for index, raw in enumerate(raw_stages):
        where = f'train.stages[{index}]'
        for key in raw:
            if key not in STAGE_KEYS:
                close = difflib.get_close_matches(str(key), STAGE_KEYS, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ''
                raise ValueError(f'{where}.{key}: unknown key; {hint}allowed: {", ".join(STAGE_KEYS)}')
        iters = raw.get('iters')
        if not isinstance(iters, int) or isinstance(iters, bool) or iters < 1:
            raise ValueError(f'{where}.iters must be a positive integer, got {iters!r}')
        losses = _parse_losses(raw.get('losses', []), where)
        for name in losses:
            if not train_opt.get(LOSS_TERMS[name].option_key):
                raise ValueError(f'{where} uses loss {name!r}, but train.{LOSS_TERMS[name].option_key} is not set')
        train_d = _parse_discriminator(raw.get('train_d'), where, 'train_d')
        adv_d = _parse_discriminator(raw.get('adv_d', train_d), where, 'adv_d')
        if 'gan' in losses and adv_d is None:
            raise ValueError(f"{where} uses the 'gan' loss but no discriminator: set train_d or adv_d "
                             '(student or teacher)')
        if 'teacher' in (train_d, adv_d) and not has_teacher_d:
            raise ValueError(f'{where} uses the teacher discriminator, but network_d_teacher is not configured')
        if (train_d or adv_d) and not train_opt.get('gan_opt'):
            raise ValueError(f'{where} trains or uses a discriminator, but train.gan_opt is not set')
        stages.append(Stage(index, str(raw.get('name', f'stage{index + 1}')), next_iter, next_iter + iters - 1,
                            losses, train_d, adv_d if 'gan' in losses else None))
        next_iter += iters
    total_iter = int(train_opt['total_iter'])
    if next_iter - 1 != total_iter:
        sums = ' + '.join(str(s.last_iter - s.first_iter + 1) for s in stages)
        raise ValueError(f'train.stages iterations add up to {sums} = {next_iter - 1}, but train.total_iter is '
                         f'{total_iter}; make them equal')
    return stages


def stage_at(stages, current_iter):
    """The stage that owns 1-based iteration ``current_iter`` (the last one past the end)."""
    for stage in stages:
        if current_iter <= stage.last_iter:
            return stage
    return stages[-1]
