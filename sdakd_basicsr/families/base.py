"""Base class and registry of teacher-family adapters."""
from copy import deepcopy
from fractions import Fraction

#: ``sdakd.family`` name -> adapter class
FAMILY_REGISTRY = {}


def register_family(family_cls):
    """Class decorator adding a :class:`TeacherFamily` subclass under its ``name``."""
    if family_cls.name in FAMILY_REGISTRY:
        raise KeyError(f'teacher family {family_cls.name!r} is registered twice')
    FAMILY_REGISTRY[family_cls.name] = family_cls
    return family_cls


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
    """How to call, scale and tap one family of SR GAN generators and discriminators.

    Subclasses set :attr:`name`, :attr:`value_range` and :attr:`input_keys`, and implement the methods.
    """

    #: name used in ``sdakd.family``
    name = None
    #: range of generator inputs and outputs (and of GT images given to losses)
    value_range = (0.0, 1.0)
    #: keys of a data batch the generator needs, besides ``lq`` (moved to the device by the model)
    input_keys = ('lq', )

    def generate(self, net, inputs):
        """Run generator ``net`` on ``inputs`` (dict with :attr:`input_keys`) and return the image tensor."""
        raise NotImplementedError

    def student_generator_opt(self, teacher_opt, width, **options):
        """Options of the width-scaled student generator derived from the teacher's options."""
        raise NotImplementedError

    def student_discriminator_opt(self, teacher_d_opt, width, **options):
        """Options of the capacity-matched student discriminator derived from the teacher's D options."""
        raise NotImplementedError

    def default_feature_layers(self, teacher_opt):
        """Module names tapped for feature-map distillation when ``distill_opt.layers`` is not given."""
        raise NotImplementedError

    def dummy_inputs(self, teacher_opt, device, size=None):
        """A small batch of generator inputs used once to probe feature channel counts."""
        raise NotImplementedError

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

    @staticmethod
    def _copy_without_type(opt):
        opt = deepcopy(dict(opt))
        return opt, opt.pop('type')


def build_family(name):
    """Instantiate the adapter registered under ``name`` (``sdakd.family``) with a clear error if unknown."""
    if name not in FAMILY_REGISTRY:
        raise ValueError(f'sdakd.family={name!r} is not a known teacher family; '
                         f'choose one of {sorted(FAMILY_REGISTRY)}.')
    return FAMILY_REGISTRY[name]()
