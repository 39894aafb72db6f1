"""Base class and registry of teacher families."""
import os
from copy import deepcopy
from fractions import Fraction

from basicsr.utils.registry import Registry

#: loss name -> the ground-truth variant it compares against (families may sharpen some of them)
TARGET_LOSSES = ('pixel', 'perceptual', 'gan')


class FamilyRegistry(Registry):
    """BasicSR ``Registry`` keyed by each family's ``name`` (the value of ``sdakd.family``), not its class name."""

    def register(self, obj=None, suffix=None):
        if obj is None:
            return lambda family_cls: self.register(family_cls)
        self._do_register(obj.name, obj)
        return obj

    def get(self, name):
        if name not in self:
            raise ValueError(f'sdakd.family={name!r} is not a known teacher family; '
                             f'choose one of {sorted(self.keys())}.')
        return super().get(name)


#: ``sdakd.family`` name -> family class
FAMILY_REGISTRY = FamilyRegistry('teacher family')
#: ``sdakd.family`` of an option file that does not set it
DEFAULT_FAMILY = 'realesrgan'


def scale_channels(channels, width, what):
    """``channels * width`` as an int, or a ValueError naming the option when it is not a whole number.

    Args:
        channels (int): Teacher channel count.
        width (float): Width factor (``sdakd.width``), e.g. 0.5, 0.25, 0.125.
        what (str): Option path of ``channels``, used in the error message.
    """
    scaled = Fraction(channels) * Fraction(width).limit_denominator(1 << 16)
    if scaled.denominator != 1 or scaled < 1:
        raise ValueError(f'sdakd.width={width} gives {float(scaled):g} channels for {what}={channels}; '
                         'choose a width that turns every scaled channel count into a positive integer '
                         '(e.g. 1/2, 1/4, 1/8 of a channel count divisible by 8), or write the student '
                         'network out explicitly as network_g / network_d.')
    return int(scaled)


class TeacherFamily:
    """Everything SDAKD needs to know about one family of SR GAN generators and discriminators.

    One instance per model. The distillation model never looks at an architecture directly: it asks its
    family how to call the generator, how to derive students, which layers to tap, and how to turn a data
    batch into generator inputs and loss targets. Adding a family (SwinIR, HAT, SPAN, ...) means writing one
    subclass in a new file of this package.

    Subclasses set :attr:`name`, :attr:`value_range`, :attr:`input_keys` and :attr:`options`, and implement
    the architecture methods.

    Args:
        sdakd_opt (dict | None): The ``sdakd`` option block; the family reads its own keys (:attr:`options`).
    """

    #: name used in ``sdakd.family``
    name = None
    #: range of generator inputs and outputs (and of GT images given to losses)
    value_range = (0.0, 1.0)
    #: keys of a data batch the generator needs (moved to the device)
    input_keys = ('lq', )
    #: family-specific ``sdakd.*`` options and their defaults
    options = {}
    #: where the teacher's released discriminator goes (``path.pretrain_network_d_teacher`` of the ``teacher_d``
    #: baseline), or None where the family released none
    released_teacher_d = None

    def __init__(self, sdakd_opt=None):
        self.sdakd_opt = dict(sdakd_opt or {})

    def configure(self, generator_opt):
        """Adapt to the generator options the family will run (``network_g_teacher`` or ``network_g``)."""

    def option(self, key):
        """Value of the family option ``sdakd.<key>`` (its default from :attr:`options` when not set)."""
        return self.sdakd_opt.get(key, self.options[key])

    # ------------------------------------------------------------------ architecture
    def generate(self, net, inputs):
        """Run generator ``net`` on ``inputs`` (dict with :attr:`input_keys`) and return the image tensor."""
        raise NotImplementedError

    def student_generator_opt(self, teacher_opt, width):
        """Options of the width-scaled student generator derived from the teacher's options."""
        raise NotImplementedError

    def student_discriminator_opt(self, teacher_d_opt, width):
        """Options of the capacity-matched student discriminator derived from the teacher's D options."""
        raise NotImplementedError

    def default_feature_layers(self, teacher_opt):
        """Module names tapped for feature-map distillation when ``distill_opt.layers`` is not given."""
        raise NotImplementedError

    def default_feature_layer_pairs(self, teacher_opt, student_opt, teacher_layers=None):
        """``(student_layers, teacher_layers)`` tapped when ``distill_opt.student_layers`` is not given.

        Default: the same names in both, i.e. ``teacher_layers`` (or :meth:`default_feature_layers`). Families
        whose students may be another architecture than the teacher map the taps by relative depth instead.
        """
        teacher_layers = list(teacher_layers or self.default_feature_layers(teacher_opt))
        return list(teacher_layers), teacher_layers

    def student_discriminator_width(self, student_opt, teacher_opt, teacher_d_opt, d_width, width):
        """Width of the derived student D relative to the teacher D: ``sdakd.d_width``, else ``sdakd.width``.

        Args:
            student_opt / teacher_opt / teacher_d_opt (dict): ``network_g``, ``network_g_teacher``,
                ``network_d_teacher``.
            d_width (float | str | None): ``sdakd.d_width`` as given.
            width (float): ``sdakd.width``.
        """
        if d_width is None:
            return width
        if isinstance(d_width, bool) or not isinstance(d_width, (int, float)) or not 0 < d_width <= 1:
            raise ValueError(f'sdakd.d_width={d_width!r} must be a number in (0, 1] (the realesrgan and srvgg '
                             "families also accept 'capacity')")
        return d_width

    def dummy_inputs(self, teacher_opt, device, size=None):
        """A small batch of generator inputs (``size`` px, or the family's default) used to probe channel counts."""
        raise NotImplementedError

    # ------------------------------------------------------------------ data
    def setup_training_data(self, opt, device):
        """Prepare what :meth:`prepare_batch` needs during training (e.g. on-the-fly degradation). Default: nothing."""

    def prepare_batch(self, data, device, training):
        """Turn a data-loader batch into generator inputs and loss targets on ``device``.

        Returns:
            dict: ``lq`` (tensor), ``gt`` (tensor, when the batch has one), ``inputs`` (dict for :meth:`generate`)
            and ``targets`` (loss name in :data:`TARGET_LOSSES` -> the GT variant that loss compares against).
        """
        self.check_batch(data)
        batch = {'inputs': {k: data[k].to(device) for k in self.input_keys if k in data}}
        batch['lq'] = batch['inputs']['lq']
        if 'gt' in data:
            batch['gt'] = data['gt'].to(device)
            batch['targets'] = {loss: batch['gt'] for loss in TARGET_LOSSES}
        return batch

    def training_state(self):
        """Family state that must survive a resume (saved with the training state), or None."""
        return None

    def load_training_state(self, state):
        """Restore :meth:`training_state`."""

    def check_batch(self, data):
        """Raise a clear error when a data batch lacks what the generator needs."""
        missing = [k for k in self.input_keys if k not in data]
        if missing:
            raise KeyError(f'the {self.name} family needs batch keys {list(self.input_keys)}, but the dataset '
                           f'gave {sorted(data)} (missing {missing}); use a dataset that returns them.')

    def to_unit_range(self, tensor):
        """Map images from :attr:`value_range` to [0, 1] (for metrics and saving)."""
        low, high = self.value_range
        if (low, high) == (0.0, 1.0):
            return tensor
        return (tensor - low) / (high - low)

    # ------------------------------------------------------------------ evaluation and deployment
    def crop_border(self, opt):
        """Pixels cropped from each image border for PSNR / SSIM / NIQE when the option file does not say.

        Default: the upscaling factor ``scale``, as Real-ESRGAN's and BasicSR's validation options of an xN
        model crop N pixels (the border is where a network sees zero padding instead of image).
        """
        return int(opt.get('scale', 0))

    def evaluation_sets(self, opt, gt=None, lq=None, **settings):
        """What to evaluate on: ``[(info dict, zero-argument function yielding samples)]``.

        Default: the option file's first validation set with ``dataroot_gt`` / ``dataroot_lq`` (or the ``gt`` /
        ``lq`` folders given), as LR/GT pairs of factor ``scale``. ``info`` has ``name``, ``factor``, ``gt_dir``,
        ``lq_dir``, ``gt_files`` and ``inputs`` (how the inputs were made); a sample has ``name``, ``inputs`` (for
        :meth:`generate`), ``gt`` and ``bicubic`` (tensors in [0, 1]). ``settings`` holds family-specific
        evaluation settings (unused here).
        """
        from sdakd_basicsr.metrics import eval_data
        scale = int(opt['scale'])
        val_opt = eval_data.first_val_dataset(opt) if not gt else {}
        gt_dir = gt or val_opt['dataroot_gt']
        lq_dir = lq or val_opt.get('dataroot_lq')
        if lq_dir is None:
            raise ValueError(f'the validation set {val_opt.get("name")!r} has no dataroot_lq; pass --lq')
        name = val_opt.get('name') or os.path.basename(os.path.normpath(gt_dir))
        info = dict(name=name, factor=scale, gt_dir=gt_dir, lq_dir=lq_dir, gt_files=eval_data.list_images(gt_dir),
                    inputs=f'given LR images ({lq_dir})')
        return [(info, lambda: eval_data.paired_samples(gt_dir, lq_dir, scale))]

    def fixed_input_size(self, network_g):
        """Side of the square input a deployed generator needs (it cannot take other sizes), or None for any."""
        return None

    #: whether an exported (ONNX) generator takes any batch size (else batch 1)
    dynamic_batch = True

    #: whether the ``lq`` input may be mirrored outwards before the generator and the output cropped back
    #: (generators of any input size; :func:`sdakd_basicsr.deploy.tiling.reflect_pre_padded`)
    pre_pad_inputs = True

    #: the family's main SDAKD option file under ``options/`` (what the benchmarks measure), or None
    main_option_file = None

    #: the family's student table of :mod:`sdakd_basicsr.metrics.tables`: ``number`` (T<number>), ``title``,
    #: ``metrics`` (columns per evaluation set) and ``per_set_columns`` (one column group per factor); None: no table
    results_table = None

    def photo_inputs(self, photo, spec, size=96, factor=8):
        """Generator inputs made from a real photo (BGR uint8), to check an export: its centre ``size`` crop.

        Args:
            photo (np.ndarray): The photo (H x W x 3, BGR, as cv2 reads it).
            spec (StudentSpec): The deployed student (network options, condition norm).
            size (int): Side of the crop taken as the LR input.
            factor (float): Factor condition, for families whose generators take one.
        """
        from sdakd_basicsr.deploy.runner import image_to_tensor
        low, high = self.value_range
        top, left = max(0, (photo.shape[0] - size) // 2), max(0, (photo.shape[1] - size) // 2)
        return (image_to_tensor(photo[top:top + size, left:left + size]) * (high - low) + low, )

    def deploy_fields(self, opt):
        """What a deployed student needs besides its network options: ``{'scale': ...}`` by default.

        Read from a training option file ``opt`` whose ``network_g`` is resolved (RRDBNet's ``scale``,
        SRVGGNetCompact's ``upscale``, else the file's ``scale``).
        """
        net_opt = opt['network_g']
        return {'scale': net_opt.get('scale') or net_opt.get('upscale') or opt.get('scale', 4)}

    @staticmethod
    def _copy_without_type(opt):
        opt = deepcopy(dict(opt))
        return opt, opt.pop('type')

    def _require_type(self, net_type, allowed, option):
        if net_type not in allowed:
            raise ValueError(f'the {self.name} family derives {option} from {list(allowed)}, not {net_type!r}; '
                             f'write {option} out explicitly or choose another sdakd.family.')


def build_family(name, sdakd_opt=None):
    """Instantiate the family registered under ``name`` (``sdakd.family``) with a clear error if unknown.

    Args:
        name (str): ``sdakd.family``.
        sdakd_opt (dict | None): The ``sdakd`` option block (family-specific options are read from it).
    """
    return FAMILY_REGISTRY.get(name)(sdakd_opt)


def family_from_options(opt):
    """The family an option dict names in ``sdakd.family`` (default :data:`DEFAULT_FAMILY`), with its options."""
    sdakd_opt = opt.get('sdakd') or {}
    return build_family(sdakd_opt.get('family', DEFAULT_FAMILY), sdakd_opt)


def family_for_generator(net_type):
    """Name of the family whose teachers are generators of type ``net_type``, or None.

    For option files without ``sdakd`` (a plain BasicSR training file).
    """
    names = sorted(name for name, cls in FAMILY_REGISTRY if net_type in getattr(cls, 'generator_types', ()))
    return names[0] if names else None
