#!/usr/bin/env bash
# Set up sdakd_basicsr in the current Python environment (idempotent, offline-fast on the project machine).
#   1. the requirements; torch/torchvision: an installed pair inside the supported range is kept (it is the build
#      for this machine's CUDA), the pinned, tested pair of requirements.txt is installed only where torch is
#      absent (or with SDAKD_TORCH=pinned); sdakd_basicsr/torch_support.py decides and says which;
#   2. basicsr, built against that torch (its sdist needs torch at build time: --no-build-isolation);
#      an existing basicsr (PyPI 1.4.2 or a BasicSR master clone) is kept as it is;
#   3. sdakd_basicsr itself (editable) and its start-up hook, which plugs it into `python -m basicsr.train`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
PIP="$PYTHON -m pip install --disable-pip-version-check -q"

REQUIREMENTS="$(mktemp)"; trap 'rm -f "$REQUIREMENTS"' EXIT
$PYTHON sdakd_basicsr/torch_support.py --requirements requirements.txt --out "$REQUIREMENTS"
$PIP -r "$REQUIREMENTS"
if ! $PYTHON -c "import importlib.metadata as m; m.version('basicsr')" >/dev/null 2>&1; then
  $PIP --no-build-isolation -c "$REQUIREMENTS" 'basicsr==1.4.2'
fi
$PIP --no-build-isolation --no-deps -e .
$PYTHON -m sdakd_basicsr_startup
$PYTHON -c "import sdakd_basicsr, basicsr; print('sdakd_basicsr', sdakd_basicsr.__version__, 'on basicsr', basicsr.__version__)"
