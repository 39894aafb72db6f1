"""The runtime of the inference command: a student, a backend, tiling, and value-range conversion."""
import numpy as np
import torch

from sdakd_basicsr.deploy.backends import make_backend
from sdakd_basicsr.deploy.onnx_export import DeployGenerator
from sdakd_basicsr.deploy.tiling import reflect_pre_padded, tiled_forward

#: backend of the inference command on a CPU, picked by python -m sdakd_basicsr.benchmarks.backends (docs/benchmarks.md)
DEFAULT_CPU_BACKEND = 'channels_last'
#: default tile size (input pixels) and overlap of the inference command
DEFAULT_TILE = 256
DEFAULT_OVERLAP = 32  # context each side of a seam: 16 px at the blend's centre
#: input pixels mirrored outwards before a size-changing student, so that no image border meets zero padding
DEFAULT_PRE_PAD = 8


def default_backend(device):
    """The backend the inference command uses when none is asked for."""
    return DEFAULT_CPU_BACKEND if torch.device(device).type == 'cpu' else 'eager'


class StudentRunner:
    """Runs a student generator on images in [0, 1], whatever its family's own value range.

    Args:
        net (nn.Module): The generator.
        spec (StudentSpec): Its description (family, scale, cond_norm).
        backend (str | None): See :mod:`sdakd_basicsr.deploy.backends`; None = :func:`default_backend`.
        device (str): ``cpu`` or ``cuda[:N]``.
        half (bool): fp16 on a GPU.
        tile (int): Tile size in input pixels for size-changing (Real-ESRGAN) students; 0 = no tiling.
        overlap (int): Tile overlap in input pixels.
        pre_pad (int): Input pixels mirrored outwards on each side before a size-changing student (and cropped
            from its output), so that the image border meets mirrored content instead of zero padding.
        threads (int | None): onnxruntime intra-op threads.
        onnx_path (str | None): A ready ONNX export of the same student, for the onnxruntime backend.
    """

    def __init__(self, net, spec, backend=None, device='cpu', half=False, tile=DEFAULT_TILE,
                 overlap=DEFAULT_OVERLAP, threads=None, onnx_path=None, pre_pad=DEFAULT_PRE_PAD):
        self.spec = spec
        self.family = spec.family_adapter
        self.module = net if isinstance(net, DeployGenerator) else DeployGenerator(net, self.family).eval()
        self.backend_name = backend or default_backend(device)
        self.backend = make_backend(self.backend_name, self.module, spec=spec, device=device, half=half,
                                    threads=threads, onnx_path=onnx_path)
        self.tile, self.overlap, self.pre_pad = tile, overlap, pre_pad

    @property
    def conditional(self):
        """Whether the generator takes the factor condition ``in_size`` (GCFSR, not the blind variant)."""
        return 'in_size' in self.module.input_keys

    def _from_unit(self, tensor):
        low, high = self.family.value_range
        return tensor * (high - low) + low

    def upscale(self, image):
        """Super-resolve a (1, 3, H, W) float tensor in [0, 1] (Real-ESRGAN family; tiled) -> [0, 1], float32."""
        if self.spec.scale is None:
            raise ValueError(f'the {self.spec.family} student keeps the input size; use restore_face()')
        with torch.inference_mode():
            out = reflect_pre_padded(lambda padded: tiled_forward(
                lambda x: self.backend(self._from_unit(x)), padded, self.spec.scale, self.tile, self.overlap),
                image, self.pre_pad)
            return self.family.to_unit_range(out.cpu()).clamp(0, 1)

    def restore_face(self, face, factor):
        """GCFSR: super-resolve a (1, 3, S, S) face in [0, 1] (the LR face resized to S) at upscaling ``factor``."""
        with torch.inference_mode():
            inputs = [self._from_unit(face)]
            if self.conditional:
                inputs.append(torch.full((face.shape[0], 1), float(factor) / (self.spec.cond_norm or 32)))
            out = self.backend(*inputs).float().cpu()
            return self.family.to_unit_range(out).clamp(0, 1)


def image_to_tensor(img):
    """HWC BGR uint8/uint16 image (cv2) -> (1, 3, H, W) RGB float32 in [0, 1]; grey images become RGB."""
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    peak = 65535.0 if img.dtype == np.uint16 else 255.0
    rgb = np.ascontiguousarray(img[:, :, 2::-1], dtype=np.float32) / peak
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)


def tensor_to_image(tensor, dtype=np.uint8):
    """(1, 3, H, W) RGB in [0, 1] -> HWC BGR image of ``dtype`` (uint8 or uint16), rounded."""
    peak = 65535.0 if dtype == np.uint16 else 255.0
    rgb = tensor[0].clamp(0, 1).permute(1, 2, 0).numpy()
    return np.ascontiguousarray((rgb[:, :, ::-1] * peak).round().astype(dtype))
