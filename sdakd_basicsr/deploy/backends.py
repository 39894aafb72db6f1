"""Ways to run a deployed generator, chosen by measurement (``python -m sdakd_basicsr.benchmarks.backends``).

Each backend turns a :class:`~sdakd_basicsr.deploy.onnx_export.DeployGenerator` into a callable taking and
returning torch tensors:

* ``eager``: plain PyTorch (fp16 on a GPU when ``half``);
* ``channels_last``: weights and inputs in NHWC memory format (oneDNN's preferred layout on CPUs);
* ``compile``: ``torch.compile`` (inductor) over the channels_last module; the first call of each input shape
  compiles (about two minutes for an RRDBNet on 2 cores), later calls are fast;
* ``onnxruntime``: the module exported to ONNX (or a given ``.onnx``) run by onnxruntime on the CPU.
"""
import copy
import os
import tempfile

import torch

BACKENDS = ('eager', 'channels_last', 'compile', 'onnxruntime')


class Backend:
    """A callable ``backend(*tensors) -> tensor`` with a ``name`` and the device it runs on."""

    def __init__(self, name, fn, device, dtype=torch.float32):
        self.name, self.fn, self.device, self.dtype = name, fn, torch.device(device), dtype

    def __call__(self, *tensors):
        tensors = [t.to(self.device, self.dtype) if t.is_floating_point() else t.to(self.device) for t in tensors]
        with torch.inference_mode():
            return self.fn(*tensors)


def _to_channels_last(module):
    # tensor by tensor: Module.to(memory_format=...) refuses GCFSR's 5-D modulated-conv weights
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)

    def run(*args):
        return module(*(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in args))
    return run


def make_backend(name, module, spec=None, device='cpu', half=False, threads=None, onnx_path=None, cache_dir=None):
    """Build backend ``name`` for ``module`` (a DeployGenerator in eval mode).

    Args:
        name (str): One of :data:`BACKENDS`.
        module (DeployGenerator): The model (moved to ``device`` here, except for onnxruntime).
        spec (StudentSpec): Needed for ``onnxruntime`` when no ``onnx_path`` is given (export on the fly).
        device (str): ``cpu`` or ``cuda[:N]``; ``onnxruntime`` runs on the CPU only.
        half (bool): fp16 weights and inputs, on a GPU only (CPU fp16 convolutions are slower than fp32).
        threads (int | None): Intra-op threads of onnxruntime (torch's are set with ``torch.set_num_threads``).
        onnx_path (str | None): A ready ONNX file of this model for ``onnxruntime``.
        cache_dir (str | None): Where an on-the-fly ONNX export goes (default: a temporary folder).
    """
    if name not in BACKENDS:
        raise ValueError(f'unknown backend {name!r}; choose one of {BACKENDS}')
    device = torch.device(device)
    if half and device.type != 'cuda':
        raise ValueError('fp16 (--half) needs a CUDA device; on the CPU run fp32 (the default).')
    dtype = torch.float16 if half else torch.float32
    if name == 'onnxruntime':
        if device.type != 'cpu':
            raise ValueError('the onnxruntime backend here runs on the CPU; use eager / compile on a GPU.')
        from sdakd_basicsr.deploy.onnx_export import export_deployed_onnx, onnx_session, run_onnx
        if onnx_path is None:
            if spec is None:
                raise ValueError('the onnxruntime backend needs an .onnx file or the StudentSpec to export one')
            cache_dir = cache_dir or tempfile.mkdtemp(prefix='sdakd-onnx-')
            onnx_path = os.path.join(cache_dir, 'student.onnx')
            export_deployed_onnx(module, spec, onnx_path)
        session = onnx_session(onnx_path, threads or torch.get_num_threads())
        return Backend(name, lambda *t: run_onnx(session, *t), 'cpu')
    module = module.to(device, dtype).eval()
    if name == 'eager':
        return Backend(name, module, device, dtype)
    run = _to_channels_last(copy.deepcopy(module))  # leave the caller's module in its own layout
    if name == 'channels_last':
        return Backend(name, run, device, dtype)
    return Backend(name, torch.compile(run, dynamic=False), device, dtype)
