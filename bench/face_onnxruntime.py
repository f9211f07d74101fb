"""The shenfen face pipeline re-implemented on PyPI onnxruntime + numpy + Pillow,
same model files, same input, one thread: the baseline `compare_face_onnxruntime.sh`
measures shenfen against. Prints one JSON object of per-stage milliseconds.

usage: python3 face_onnxruntime.py MODELS_DIR IMAGE ITERATIONS
"""
import json
import math
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

ALIGNED = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]])


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def similarity(src, dst):
    """Least-squares similarity transform taking src points onto dst."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    var = (s ** 2).sum()
    a = (s * d).sum() / var
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / var
    return np.array([[a, -b, md[0] - (a * ms[0] - b * ms[1])], [b, a, md[1] - (b * ms[0] + a * ms[1])]])


def main():
    models, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    det, lm, pose, emb = (session(f"{models}/{m}.onnx") for m in ("fr_detect", "fr_landmark", "fr_pose", "fr_feature"))
    raw = open(path, "rb").read()
    times = dict(decode=0.0, detect=0.0, landmarks=0.0, quality=0.0, pose=0.0, embed=0.0, inference_only=0.0)

    def clock(stage, f):
        t = time.perf_counter()
        out = f()
        times[stage] += time.perf_counter() - t
        return out

    def infer(s, x):
        t = time.perf_counter()
        out = s.run(None, {"input": x})
        times["inference_only"] += time.perf_counter() - t
        return out

    start = time.perf_counter()
    for _ in range(n):
        img = clock("decode", lambda: Image.open(__import__("io").BytesIO(raw)).convert("RGB"))
        w, h = img.size

        def detect():
            x = ((np.asarray(img.resize((320, 240), Image.BILINEAR), dtype=np.float32) - 127) / 128).transpose(2, 0, 1)[None]
            scores, boxes = infer(det, x)
            i = scores[0, :, 1].argmax()
            return boxes[0, i] * [w, h, w, h]

        x1, y1, x2, y2 = clock("detect", detect)
        bw, bh = x2 - x1, y2 - y1

        def landmarks():
            crop = img.crop((int(x1), int(y1), int(x2), int(y2))).resize((64, 64), Image.BILINEAR).convert("L")
            out = infer(lm, (np.asarray(crop, dtype=np.float32) / 256)[None, None])[0][0]
            pts = np.stack([out[0::2] * bw + x1, out[1::2] * bh + y1], 1)
            return np.array([pts[[37, 38, 40, 41]].mean(0), pts[[43, 44, 46, 47]].mean(0), pts[30], pts[[48, 60]].mean(0), pts[[54, 64]].mean(0)])

        five = clock("landmarks", landmarks)

        def quality():
            m = similarity(ALIGNED, five)
            grey = np.asarray(img.transform((112, 112), Image.AFFINE, tuple(m.flatten()), Image.BILINEAR).convert("L"), dtype=np.float32)
            lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
            return m, grey.mean(), lap.var()

        m, _, _ = clock("quality", quality)

        def head_pose():
            crop = img.crop((int(x1 - bw / 4), int(y1 - bh / 4), int(x2 + bw / 4), int(y2 + bh / 4))).resize((224, 224), Image.BILINEAR)
            p = np.asarray(crop, dtype=np.float32) / 255
            p = ((p - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).astype(np.float32).transpose(2, 0, 1)[None]
            return [float((softmax(v[0]) * np.arange(66)).sum() * 3 - 99) for v in infer(pose, p)]

        clock("pose", head_pose)

        def embed():
            face = np.asarray(img.transform((112, 112), Image.AFFINE, tuple(m.flatten()), Image.BILINEAR), dtype=np.float32)
            e = infer(emb, ((face - 127) / 128).transpose(2, 0, 1)[None].astype(np.float32))[0][0]
            return e / np.linalg.norm(e)

        clock("embed", embed)
    total = time.perf_counter() - start
    report = {k: v * 1000 / n for k, v in times.items()}
    report["end_to_end"] = total * 1000 / n
    print(json.dumps({"implementation": f"onnxruntime {ort.__version__} (Python, numpy {np.__version__}, Pillow)", "single_thread_ms": report}))


if __name__ == "__main__":
    main()
