#!/usr/bin/env python3
"""Writes tests/fixtures/voice_fbank_fixture.onnx: a tiny stand-in with the signature of an fbank-based speaker
model (WeSpeaker / CAM++ style: input `feats` f32 [N,T,80] Kaldi fbank after mean normalisation -> output `embedding`
f32 [N,192]), so the `kaldi_fbank80` front end of the voice adapter (src/infer/models/voice.rs) can be tested through a
manifest swap without a real model. No real model ships anywhere.

The network is fully predictable:

    energy[n, b] = ReduceMean(feats[n, :, b] ** 2)                # per-band mean square over time
    embedding    = energy @ W                                     # [N, 192], not normalised (the adapter does it)

    W[b, j] = cos(0.37 * (b + 1) * (j + 1) + 0.11 * j)            # b in 0..80, j in 0..192, computed in float64

The square comes first because the adapter's input is mean-normalised per band: the plain mean over time of every
band is zero, so a mean-then-MatMul network would only see rounding noise. The mean square (the per-band variance of
the normalised features) depends on the audio and survives the normalisation. W is a formula, not random numbers, so
the Rust test can recompute the expected embedding from its own features and check the tensor layout [1, T, 80].

Run with any python3 that has `onnx` (tested with onnx 1.20.0); output is byte-identical on each run:
    python3 models/convert/make_voice_fbank_fixture.py [--check]
`--check` also runs the file in onnxruntime, when installed, against the numpy formula above.
"""

import hashlib
import pathlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

N_BANDS = 80
DIM = 192
OPSET = 17
ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "voice_fbank_fixture.onnx"


def weights() -> np.ndarray:
    b = np.arange(N_BANDS, dtype=np.float64)[:, None]
    j = np.arange(DIM, dtype=np.float64)[None, :]
    return np.cos(0.37 * (b + 1.0) * (j + 1.0) + 0.11 * j).astype(np.float32)


def build() -> onnx.ModelProto:
    inp = helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["N", "T", N_BANDS])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", DIM])
    weight = numpy_helper.from_array(weights(), name="weight")
    nodes = [
        helper.make_node("Mul", ["feats", "feats"], ["squared"], name="square"),
        # ReduceMean takes axes as an input from opset 18; at opset 17 it is an attribute.
        helper.make_node("ReduceMean", ["squared"], ["energy"], axes=[1], keepdims=0, name="time_mean"),
        helper.make_node("MatMul", ["energy", "weight"], ["embedding"], name="projection"),
    ]
    graph = helper.make_graph(nodes, "voice_fbank_fixture", [inp], [out], initializer=[weight])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facereview make_voice_fbank_fixture.py",
        producer_version="1",
        doc_string="Test fixture, not a speaker model: embedding = mean over time of feats^2 @ W (see the script).",
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def expected(feats: np.ndarray) -> np.ndarray:
    return (feats.astype(np.float64) ** 2).mean(axis=1) @ weights().astype(np.float64)


def main() -> None:
    model = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString(deterministic=True)
    OUT.write_bytes(data)
    print(f"{OUT.relative_to(ROOT)}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    if "--check" in sys.argv:
        import onnxruntime as ort

        sess = ort.InferenceSession(str(OUT), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(7)
        for t in (1, 48, 301):
            x = rng.standard_normal((2, t, N_BANDS)).astype(np.float32)
            got = sess.run(["embedding"], {"feats": x})[0]
            want = expected(x)
            assert got.shape == (2, DIM), got.shape
            assert np.allclose(got, want, rtol=1e-4, atol=1e-4), (t, np.abs(got - want).max())
            print(f"onnxruntime vs formula, T={t}: max abs diff {np.abs(got - want).max():.2e}")


if __name__ == "__main__":
    main()
