#!/usr/bin/env bash
# Set up sdakd_basicsr in the current Python environment (idempotent, offline-fast on the project machine).
#   1. the pinned torch/torchvision pair and the other requirements;
#   2. basicsr, built against that torch (its sdist needs torch at build time: --no-build-isolation);
#      an existing basicsr (PyPI 1.4.2 or a BasicSR master clone) is kept as it is;
#   3. sdakd_basicsr itself (editable) and its start-up hook, which plugs it into `python -m basicsr.train`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
PIP="$PYTHON -m pip install --disable-pip-version-check -q"

$PIP -r requirements.txt
if ! $PYTHON -c "import importlib.metadata as m; m.version('basicsr')" >/dev/null 2>&1; then
  $PIP --no-build-isolation -c requirements.txt 'basicsr==1.4.2'
fi
$PIP --no-build-isolation --no-deps -e .
$PYTHON -m sdakd_basicsr_startup
$PYTHON -c "import sdakd_basicsr, basicsr; print('sdakd_basicsr', sdakd_basicsr.__version__, 'on basicsr', basicsr.__version__)"
