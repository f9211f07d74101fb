#!/usr/bin/env bash
# Side-by-side: shenfen's face pipeline against the same models run by PyPI
# onnxruntime from Python (bench/face_onnxruntime.py), same image, one thread
# each, in one run. Prints per-stage milliseconds and the end-to-end ratio.
#
# Usage: bench/compare_face_onnxruntime.sh [ITERATIONS] [IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
image=${2:-models/photos/obama.jpg}

scripts/fetch-models.sh
python3 -c "import onnxruntime, numpy, PIL" 2>/dev/null ||
  python3 -m pip install --quiet onnxruntime==1.32.0 numpy pillow
ours=$(cargo run --release -q -p shenfen-bench -- face --json --iterations "$n" --image "$image")
theirs=$(OMP_NUM_THREADS=1 python3 bench/face_onnxruntime.py models "$image" "$n")

python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
a, b = ours["single_thread_ms"], theirs["single_thread_ms"]
print(f"one thread, {ours['iterations']} selfies, {ours['image']}; shenfen vs {theirs['implementation']}")
print(f"{'stage':<16}{'shenfen ms':>12}{'onnxruntime ms':>16}")
for stage in ["decode", "detect", "landmarks", "quality", "pose", "embed", "end_to_end"]:
    print(f"{stage:<16}{a[stage]:>12.2f}{b[stage]:>16.2f}")
print(f"{'(model runs only)':<16}{'':>12}{b['inference_only']:>16.2f}")
print(f"end-to-end ratio shenfen / python-onnxruntime pipeline: {a['end_to_end'] / b['end_to_end']:.2f}x")
print(f"end-to-end ratio shenfen / onnxruntime model runs alone: {a['end_to_end'] / b['inference_only']:.2f}x")
print(f"throughput on {ours['threads']} threads: {ours['throughput_per_sec']:.1f} selfies/s; resident memory with models: {ours['rss_mib']['models_loaded']:.0f} MiB")
PY
