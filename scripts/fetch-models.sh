#!/usr/bin/env bash
# Obtains the face engine's pretrained models, the ONNX Runtime library and
# the labelled test photos from package registries, by package name, and
# checks every file against models/SHA256SUMS. Idempotent: files already in
# place with the right checksum are kept.
#
#   npm  faceplugin-face-recognition-js@0.0.1  → fr_*.onnx (detector, landmarks, embedder, liveness, eye state, head pose)
#   PyPI onnxruntime==1.32.0 (wheel)           → libonnxruntime.so.1.32.0 (loaded at run time by the `ort` crate)
#   PyPI face_recognition==1.3.0 (sdist)       → photos/*.jpg (public-domain portraits: 2 people)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=models
sums="$dir/SHA256SUMS"

if (cd "$dir" && sha256sum --quiet --check SHA256SUMS >/dev/null 2>&1); then
  exit 0
fi
echo "fetching face models, ONNX Runtime and test photos (packages: faceplugin-face-recognition-js, onnxruntime, face_recognition)"
command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent faceplugin-face-recognition-js@0.0.1 >/dev/null && tar xzf faceplugin-face-recognition-js-0.0.1.tgz)
for model in fr_detect fr_landmark fr_feature fr_liveness fr_eye fr_pose; do
  cp "$work/package/model/$model.onnx" "$dir/"
done

python3 -m pip download --quiet --no-deps --only-binary :all: -d "$work" onnxruntime==1.32.0
python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work" face_recognition==1.3.0
python3 - "$work" "$dir" <<'PY'
import glob, os, sys, tarfile, zipfile
work, out = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(work, "onnxruntime-1.32.0-*.whl"))[0]
with zipfile.ZipFile(wheel) as z, open(os.path.join(out, "libonnxruntime.so.1.32.0"), "wb") as f:
    f.write(z.read("onnxruntime/capi/libonnxruntime.so.1.32.0"))
os.makedirs(os.path.join(out, "photos"), exist_ok=True)
with tarfile.open(os.path.join(work, "face_recognition-1.3.0.tar.gz")) as t:
    for m in t.getmembers():
        if "/tests/test_images/" in m.name and m.name.endswith(".jpg"):
            with open(os.path.join(out, "photos", os.path.basename(m.name)), "wb") as f:
                f.write(t.extractfile(m).read())
PY
(cd "$dir" && sha256sum --quiet --check SHA256SUMS) || { echo "checksum mismatch in $dir: refusing to use these files" >&2; exit 1; }
echo "models ready in $dir/"
