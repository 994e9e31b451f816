#!/usr/bin/env python3
"""Fetch pinned artifacts described by TOML lock files (stdlib only, Python >= 3.11).

    python3 scripts/fetch.py LOCKFILE...             fetch + extract, verifying every sha256
    python3 scripts/fetch.py --print-sha LOCKFILE... download and print sha256 of downloads and members
    python3 scripts/fetch.py --list LOCKFILE...      download and list the members of each archive

Lock file shape (one or more [[artifact]] tables):

    [[artifact]]
    name = "onnxruntime"          # free text
    registry = "pypi"             # pypi | npm | apt
    package = "onnxruntime"
    version = "1.31.1"
    file = "onnxruntime-....whl"  # not for apt
    url = "https://files.pythonhosted.org/..."   # direct, pinned (file:// works too)
    sha256 = "<sha256 of the downloaded file>"   # not for apt
    licence = "MIT"
    [[artifact.extract]]
    member = "onnxruntime/capi/libonnxruntime.so.1.31.1"  # path in the archive; absolute path for apt
    dest = ".deps/onnxruntime/libonnxruntime.so.1.31.1"   # relative to the repository root
    sha256 = "<sha256 of the extracted file>"

Downloads are kept in .deps/downloads/. When every dest already exists with the right sha256, nothing is
touched, nothing is downloaded and at most one summary line is printed. Archives: .whl/.zip (zipfile),
.tgz/.tar.gz/.tar.bz2/.tar.xz/.tar (tarfile). Exit status 1 on any error, naming the artifact.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

REGISTRIES = ("pypi", "npm", "apt")
ZIP_SUFFIXES = (".whl", ".zip")
TAR_SUFFIXES = (".tgz", ".tar.gz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar")
ATTEMPTS = 3  # one try + two retries
RETRY_DELAY = float(os.environ.get("FETCH_RETRY_DELAY", "3"))
TIMEOUT = float(os.environ.get("FETCH_TIMEOUT", "60"))
CHUNK = 1 << 20


class FetchError(Exception):
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def log(msg: str) -> None:
    print(f"fetch: {msg}", flush=True)


def is_sha(s: object) -> bool:
    return isinstance(s, str) and len(s) == 64 and all(c in "0123456789abcdef" for c in s)


# ---------------------------------------------------------------- lock files

def load_locks(paths: list[str], root: Path, need_sha: bool) -> list[dict]:
    arts = []
    for p in paths:
        try:
            with open(p, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise FetchError(f"cannot read lock file {p}: {e}") from e
        for i, a in enumerate(data.get("artifact", [])):
            a = dict(a)
            a["_lock"] = p
            a.setdefault("name", f"{p}#{i}")
            validate(a, root, need_sha)
            arts.append(a)
    return arts


def validate(a: dict, root: Path, need_sha: bool) -> None:
    def bad(msg: str) -> FetchError:
        return FetchError(f"artifact {a['name']!r} ({a['_lock']}): {msg}")

    reg = a.get("registry")
    if reg not in REGISTRIES:
        raise bad(f"registry must be one of {REGISTRIES}, got {reg!r}")
    for key in ("package", "version", "licence"):
        if not isinstance(a.get(key), str):
            raise bad(f"missing {key!r}")
    if reg != "apt":
        for key in ("file", "url"):
            if not isinstance(a.get(key), str) or not a[key]:
                raise bad(f"missing {key!r}")
        if "/" in a["file"] or a["file"] in (".", ".."):
            raise bad(f"file must be a plain file name: {a['file']!r}")
        if need_sha and not is_sha(a.get("sha256")):
            raise bad("sha256 of the download must be 64 lowercase hex digits")
    ex = a.get("extract")
    if not isinstance(ex, list) or not ex:
        raise bad("needs at least one [[artifact.extract]]")
    for e in ex:
        member, dest = e.get("member"), e.get("dest")
        if not isinstance(member, str) or not member:
            raise bad("extract without 'member'")
        if reg == "apt" and not member.startswith("/"):
            raise bad(f"apt member must be an absolute path: {member!r}")
        if not isinstance(dest, str) or not dest or os.path.isabs(dest):
            raise bad(f"extract dest must be a relative path: {dest!r}")
        full = (root / dest).resolve()
        if root.resolve() not in full.parents:
            raise bad(f"extract dest escapes the repository: {dest!r}")
        if need_sha and not is_sha(e.get("sha256")):
            raise bad(f"sha256 of {member!r} must be 64 lowercase hex digits")


# ---------------------------------------------------------------- downloads

def download(a: dict, ddir: Path, check_sha: bool) -> Path:
    """Return the path of the verified download, downloading it if needed."""
    target = ddir / a["file"]
    want = a.get("sha256") if check_sha else None
    if target.exists():
        if want is None or sha256_file(target) == want:
            return target
        log(f"{a['file']}: cached download has a wrong sha256, downloading again")
        target.unlink()
    ddir.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    last = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            log(f"downloading {a['file']} ({a['name']})")
            req = urllib.request.Request(a["url"], headers={"User-Agent": "facereview-fetch/1"})
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r, open(part, "wb") as out:
                length = r.headers.get("Content-Length")
                got = 0
                for block in iter(lambda: r.read(CHUNK), b""):
                    out.write(block)
                    got += len(block)
            if length is not None and int(length) != got:
                raise OSError(f"short read: {got} of {length} bytes")
            last = None
            break
        except OSError as e:  # URLError and HTTPError are OSErrors
            last = e
            part.unlink(missing_ok=True)
            if attempt < ATTEMPTS:
                log(f"{a['file']}: attempt {attempt} failed ({e}); retrying")
                time.sleep(RETRY_DELAY * attempt)
    if last is not None:
        raise FetchError(f"artifact {a['name']!r}: download of {a['url']} failed after {ATTEMPTS} attempts: {last}")
    if want is not None:
        got_sha = sha256_file(part)
        if got_sha != want:
            part.unlink(missing_ok=True)
            raise FetchError(
                f"artifact {a['name']!r}: sha256 mismatch for {a['file']} "
                f"(expected {want}, got {got_sha}); download deleted")
    os.replace(part, target)
    return target


class Archive:
    """Uniform read access to zip and tar archives."""

    def __init__(self, path: Path):
        self.path = path
        name = path.name.lower()
        if name.endswith(ZIP_SUFFIXES):
            self.zip = zipfile.ZipFile(path)
            self.tar = None
        elif name.endswith(TAR_SUFFIXES):
            self.zip = None
            self.tar = tarfile.open(path, "r:*")
        else:
            raise FetchError(f"{path.name}: unsupported archive type")

    def names(self) -> list[str]:
        if self.zip:
            return [i.filename for i in self.zip.infolist() if not i.is_dir()]
        return [m.name for m in self.tar.getmembers() if m.isfile()]

    def open(self, member: str):
        try:
            if self.zip:
                return self.zip.open(member)
            m = self.tar.getmember(member)
            f = self.tar.extractfile(m) if m.isfile() else None
            if f is None:
                raise KeyError(member)
            return f
        except KeyError:
            raise FetchError(f"{self.path.name}: no member {member!r}") from None

    def sha(self, member: str) -> tuple[str, int]:
        h, n = hashlib.sha256(), 0
        with self.open(member) as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                h.update(block)
                n += len(block)
        return h.hexdigest(), n

    def close(self) -> None:
        (self.zip or self.tar).close()


def write_verified(src, dest: Path, want: str, what: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for block in iter(lambda: src.read(CHUNK), b""):
            h.update(block)
            out.write(block)
    if h.hexdigest() != want:
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{what}: sha256 mismatch (expected {want}, got {h.hexdigest()})")
    os.replace(tmp, dest)


# ---------------------------------------------------------------- modes

def up_to_date(a: dict, root: Path) -> bool:
    for e in a["extract"]:
        d = root / e["dest"]
        if not d.is_file() or sha256_file(d) != e["sha256"]:
            return False
    return True


def fetch(arts: list[dict], root: Path, ddir: Path) -> int:
    todo = [a for a in arts if not up_to_date(a, root)]
    nfiles = sum(len(a["extract"]) for a in arts)
    if not todo:
        log(f"{nfiles} files up to date")
        return 0
    errors = 0
    written = 0
    for a in todo:
        try:
            written += fetch_one(a, root, ddir)
        except FetchError as e:
            print(f"fetch: error: {e}", file=sys.stderr)
            errors += 1
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as e:
            print(f"fetch: error: artifact {a['name']!r}: {e}", file=sys.stderr)
            errors += 1
    if errors:
        print(f"fetch: {errors} artifact(s) failed", file=sys.stderr)
        return 1
    log(f"{written} files written; all {nfiles} files up to date")
    return 0


def fetch_one(a: dict, root: Path, ddir: Path) -> int:
    pending = [e for e in a["extract"]
               if not ((root / e["dest"]).is_file() and sha256_file(root / e["dest"]) == e["sha256"])]
    if a["registry"] == "apt":
        for e in pending:
            src = Path(e["member"])
            if not src.is_file():
                raise FetchError(f"artifact {a['name']!r}: {src} not found; install the Debian package "
                                 f"{a['package']} ({a['version']})")
            with open(src, "rb") as f:
                write_verified(f, root / e["dest"], e["sha256"], f"artifact {a['name']!r}: {src}")
        return len(pending)
    arc = Archive(download(a, ddir, check_sha=True))
    try:
        for e in pending:
            with arc.open(e["member"]) as f:
                write_verified(f, root / e["dest"], e["sha256"],
                               f"artifact {a['name']!r}: member {e['member']!r} of {a['file']}")
    finally:
        arc.close()
    return len(pending)


def print_sha(arts: list[dict], ddir: Path, list_members: bool) -> int:
    errors = 0
    for a in arts:
        try:
            if a["registry"] == "apt":
                print(f"# {a['name']} (apt {a['package']})")
                for e in a["extract"]:
                    p = Path(e["member"])
                    if p.is_file():
                        print(f"{sha256_file(p)}  {p.stat().st_size:>10}  {p}")
                    else:
                        print(f"{'MISSING':64}  {'':>10}  {p}")
                continue
            path = download(a, ddir, check_sha=False)
            print(f"# {a['name']}: {a['file']}")
            print(f"{sha256_file(path)}  {path.stat().st_size:>10}  (download)")
            arc = Archive(path)
            try:
                if list_members:
                    for n in arc.names():
                        print(n)
                else:
                    for e in a["extract"]:
                        try:
                            s, n = arc.sha(e["member"])
                            print(f"{s}  {n:>10}  {e['member']}")
                        except FetchError:
                            print(f"{'MISSING':64}  {'':>10}  {e['member']}")
            finally:
                arc.close()
        except (FetchError, OSError, zipfile.BadZipFile, tarfile.TarError) as e:
            print(f"fetch: error: artifact {a['name']!r}: {e}", file=sys.stderr)
            errors += 1
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lockfiles", nargs="+")
    ap.add_argument("--print-sha", action="store_true",
                    help="download (without checking sha256) and print sha256 of downloads and members")
    ap.add_argument("--list", action="store_true", help="download and list archive members")
    ap.add_argument("--root", default=str(Path(__file__).resolve().parent.parent),
                    help="repository root that dest paths are relative to (default: parent of scripts/)")
    ap.add_argument("--downloads", default=None, help="download cache (default: ROOT/.deps/downloads)")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    ddir = Path(args.downloads) if args.downloads else root / ".deps" / "downloads"
    inspect = args.print_sha or args.list
    try:
        arts = load_locks(args.lockfiles, root, need_sha=not inspect)
        if inspect:
            return print_sha(arts, ddir, args.list)
        return fetch(arts, root, ddir)
    except FetchError as e:
        print(f"fetch: error: {e}", file=sys.stderr)
        return 1
    except (zipfile.BadZipFile, tarfile.TarError) as e:
        print(f"fetch: error: bad archive: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
