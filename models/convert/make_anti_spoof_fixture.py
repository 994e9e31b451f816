#!/usr/bin/env python3
"""Writes tests/fixtures/anti_spoof_fixture.onnx: a tiny stand-in with the exact signature of the operator-supplied
MiniFASNet-compatible anti-spoof model (input `input` f32 [N,3,80,80] -> output `output` f32 [N,3] logits), so the
Rust adapter (src/infer/models/antispoof.rs) can be tested without a real model. No real model ships anywhere.

The network is fully predictable:

    mean[n, c] = ReduceMean(input[n, c, :, :])                    # per-channel spatial mean, c in tensor order
    logits     = mean @ (W * GAIN / 255)

with the tensor's channels in BGR order (as MiniFASNet takes them) and

    W = [[1, 0, 0],    # B -> class 0 (spoof)
         [0, 1, 0],    # G -> class 1 (real)
         [0, 1, 0]]    # R -> class 1 (real)

So a crop that is mostly green (or red) scores as real and a mostly blue one as spoof. The test crops prove the
adapter's preprocessing:
- channel order: a pure blue crop fed as RGB by mistake puts 255 in tensor channel 2 (= "R") and reads as real;
- scaling: with raw 0..255 values a pure green crop gives logits (0, GAIN, 0) and p(real) = e^G / (e^G + 2) =
  0.99933 for GAIN = 8; a /255 or [-1, 1] normalisation gives near-zero logits and p(real) ~ 1/3.
Expected live scores (softmax of the logits, class 1): pure green 0.999330, pure blue 0.000335, pure red 0.999330,
black 0.333333.

Run with any python3 that has `onnx` (tested with onnx 1.20.0); output is byte-identical on each run:
    python3 models/convert/make_anti_spoof_fixture.py [--check]
`--check` also runs the file in onnxruntime, when installed, and prints the scores above.
"""

import hashlib
import pathlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

GAIN = 8.0
OPSET = 17
ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "anti_spoof_fixture.onnx"

W = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0]], dtype=np.float32) * np.float32(GAIN / 255.0)


def build() -> onnx.ModelProto:
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 80, 80])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3])
    weight = numpy_helper.from_array(W, name="weight")
    nodes = [
        # ReduceMean takes axes as an input from opset 18; at opset 17 it is an attribute.
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[2, 3], keepdims=0, name="spatial_mean"),
        helper.make_node("MatMul", ["mean", "weight"], ["output"], name="class_weights"),
    ]
    graph = helper.make_graph(nodes, "anti_spoof_fixture", [inp], [out], initializer=[weight])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facereview make_anti_spoof_fixture.py",
        producer_version="1",
        doc_string="Test fixture, not a real anti-spoof model: logits = spatial mean (BGR) @ W * 8/255.",
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def expected(bgr_mean: np.ndarray) -> np.ndarray:
    logits = bgr_mean @ W
    e = np.exp(logits - logits.max())
    return e / e.sum()


def main() -> None:
    model = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString(deterministic=True)
    OUT.write_bytes(data)
    print(f"{OUT.relative_to(ROOT)}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    cases = {
        "green": [0, 255, 0],
        "blue": [255, 0, 0],
        "red": [0, 0, 255],
        "black": [0, 0, 0],
    }
    for name, bgr in cases.items():
        print(f"expected live score, pure {name}: {expected(np.array(bgr, dtype=np.float32))[1]:.6f}")
    if "--check" in sys.argv:
        import onnxruntime as ort

        sess = ort.InferenceSession(str(OUT), providers=["CPUExecutionProvider"])
        for name, bgr in cases.items():
            x = np.broadcast_to(np.array(bgr, dtype=np.float32)[None, :, None, None], (1, 3, 80, 80)).copy()
            logits = sess.run(["output"], {"input": x})[0][0]
            p = np.exp(logits - logits.max())
            p /= p.sum()
            want = expected(np.array(bgr, dtype=np.float32))
            assert np.allclose(p, want, atol=1e-6), (name, p, want)
            print(f"onnxruntime live score, pure {name}: {p[1]:.6f}")


if __name__ == "__main__":
    main()
