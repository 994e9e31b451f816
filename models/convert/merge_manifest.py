"""Merges models/manifest.d/*.toml into models/manifest.toml (the file the service reads).

Run after a conversion script rewrote a fragment: `python3 models/convert/merge_manifest.py`.
"""

from pathlib import Path
import tomllib

ROOT = Path(__file__).resolve().parents[1]
ORDER = [
    "blazeface", "face_mesh", "selfie_segmentation", "expression", "mobilefacenet", "anti_spoof",
    "silero_vad", "voice_embedding", "scene", "centernet", "ocr_det", "ocr_rec", "ocr_cls",
]
HEADER = """# facereview model manifest (schema 1): every model the service loads, with its source, licence, sha256 and
# signature. The loader checks file size, sha256, input/output names, dtypes and shapes (-1 = dynamic) before use.
# Generated from models/manifest.d/*.toml by models/convert/merge_manifest.py; edit the fragments, not this file.
# origin: as-shipped = fetched by the set-up from the registry package named in `source` (scripts/fetch.py,
# models/fetch.toml); converted = committed in models/converted/, made by `convert_script` (which checks the ONNX
# against the original runtime); operator-supplied = optional, placed by the operator.

schema = 1
"""


def main() -> None:
    frags = {p.stem: p.read_text() for p in sorted((ROOT / "manifest.d").glob("*.toml"))}
    unknown = sorted(set(frags) - set(ORDER))
    if unknown:
        raise SystemExit(f"fragments not in ORDER: {unknown}")
    parts = [HEADER]
    for key in ORDER:
        if key in frags:
            tomllib.loads(frags[key])  # each fragment must parse on its own
            parts.append("\n" + frags[key].strip() + "\n")
    text = "".join(parts)
    tomllib.loads(text)
    (ROOT / "manifest.toml").write_text(text)
    print(f"models/manifest.toml: {sum(k in frags for k in ORDER)} models")


if __name__ == "__main__":
    main()
