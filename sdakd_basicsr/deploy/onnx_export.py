"""The student as deployed (image in, image out) and its ONNX export, checked against PyTorch with onnxruntime.

ONNX inputs and outputs:

* Real-ESRGAN (RRDBNet) students: ``input`` (b, 3, h, w) in [0, 1] with dynamic b, h, w (for ``scale`` 2 or 1
  RRDBNet pixel-unshuffles, so h and w must be multiples of 2 or 4), ``output`` (b, 3, h·scale, w·scale).
* GCFSR students: ``input`` (1, 3, S, S) in [-1, 1], the LR face bicubic-upsampled to S = ``out_size`` (fixed: the
  latent branch's linear layer is sized for it), and ``in_size`` (1, 1) = factor / ``cond_norm``; the blind
  generator takes ``input`` only. ``output`` (1, 3, S, S), not clamped. Batch 1: the modulated convolutions
  are grouped convolutions with one group per image, and ONNX needs the group count to be a constant.

GCFSR's generators add noise maps; deployed, they use their stored noise buffers (``randomize_noise=False``),
so that outputs are deterministic and ONNX and PyTorch agree.
"""
import json
import os

import torch
from torch import nn

#: onnx opset written by :func:`export_onnx`
DEFAULT_OPSET = 18


class _StoredNoise(nn.Module):
    """Calls a noise-injecting generator with its stored noise maps, held as buffers (exported as constants)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.conditional = getattr(net, 'conditional', True)
        for idx, noise in enumerate(net.stored_noise()):
            self.register_buffer(f'noise{idx}', noise.detach().clone())
        self.num_noise = idx + 1

    def forward(self, *args):
        noise = [getattr(self, f'noise{i}') for i in range(self.num_noise)]
        return self.net(*args, noise=noise)


class DeployGenerator(nn.Module):
    """A student generator as users run it: ``forward(image[, in_size]) -> image`` in the family's value range.

    Args:
        net (nn.Module): The generator (e.g. from :func:`sdakd_basicsr.deploy.student.load_student`).
        family (TeacherFamily): Its family adapter; the call goes through ``family.generate``.
    """

    def __init__(self, net, family):
        super().__init__()
        self.family = family
        self.net = _StoredNoise(net) if hasattr(net, 'stored_noise') else net
        # the blind GCFSR generator has no factor input
        self.input_keys = [k for k in family.input_keys if k == 'lq' or getattr(net, 'conditional', True)]

    @property
    def onnx_input_names(self):
        return ['input' if k == 'lq' else k for k in self.input_keys]

    def forward(self, image, in_size=None):
        inputs = {'lq': image}
        if 'in_size' in self.input_keys:
            inputs['in_size'] = in_size
        return self.family.generate(self.net, inputs)


def example_inputs(module, spec, batch=2, size=32, factor=8):
    """Example inputs for export / checks: random images of ``size`` (or the family's fixed size) and a factor."""
    family = spec.family_adapter
    low, high = family.value_range
    size = family.fixed_input_size(spec.network_g) or size
    image = torch.rand(batch, 3, size, size) * (high - low) + low
    if 'in_size' in module.input_keys:
        return image, torch.full((batch, 1), factor / (spec.cond_norm or 32))
    return (image, )


def _dynamic_shapes(module, spec):
    if not spec.family_adapter.dynamic_batch or spec.family_adapter.fixed_input_size(spec.network_g):
        return None  # fixed shapes (e.g. grouped convolutions with one group per image)
    image = {0: torch.export.Dim('batch', min=1, max=1024), 2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO}
    return (image, )


def export_onnx(net, spec, out_path, opset=DEFAULT_OPSET):
    """Export the student generator ``net`` to ONNX (single file) and return its :class:`DeployGenerator`.

    The card (:meth:`StudentSpec.card`) is stored in the model's metadata under ``sdakd_card`` (JSON).
    Uses torch's ``torch.export``-based exporter (needs ``onnxscript``).
    """
    module = DeployGenerator(net, spec.family_adapter).eval()
    export_deployed_onnx(module, spec, out_path, opset)
    return module


def export_deployed_onnx(module, spec, out_path, opset=DEFAULT_OPSET):
    """:func:`export_onnx` for a ready :class:`DeployGenerator` (float32, CPU)."""
    import onnx
    # batch 2 for a dynamic batch (torch.export would specialise a size-1 dimension to a constant)
    inputs = example_inputs(module, spec, batch=2 if spec.family_adapter.dynamic_batch else 1)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, inputs, out_path, input_names=module.onnx_input_names, output_names=['output'],
                          dynamo=True, external_data=False, dynamic_shapes=_dynamic_shapes(module, spec),
                          opset_version=opset, verbose=False)
    model = onnx.load(out_path)
    entry = model.metadata_props.add()
    entry.key, entry.value = 'sdakd_card', json.dumps(spec.card())
    onnx.save(model, out_path)


def onnx_session(path, threads=None):
    """An onnxruntime CPU session with all graph optimisations and ``threads`` intra-op threads."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=options, providers=['CPUExecutionProvider'])


def run_onnx(session, *tensors):
    """Run an onnxruntime session on torch tensors (positional, in the model's input order)."""
    feed = {i.name: t.detach().cpu().float().numpy() for i, t in zip(session.get_inputs(), tensors)}
    return torch.from_numpy(session.run(None, feed)[0])


def max_onnx_error(session, module, *tensors):
    """Largest absolute difference between onnxruntime and PyTorch outputs on ``tensors``."""
    with torch.inference_mode():
        reference = module(*tensors)
    return (run_onnx(session, *tensors) - reference).abs().max().item()
