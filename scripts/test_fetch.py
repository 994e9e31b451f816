#!/usr/bin/env python3
"""Self-test for scripts/fetch.py (stdlib unittest, no network): python3 scripts/test_fetch.py"""
import contextlib
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import unittest
import zipfile
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["FETCH_RETRY_DELAY"] = "0"
import fetch  # noqa: E402

A = b"alpha contents\n" * 100
B = b"\x00\x01binary\xff" * 50


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


class FetchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.root = self.dir / "repo"
        self.root.mkdir()
        self.src = self.dir / "src"
        self.src.mkdir()
        # a wheel-like zip and an sdist-like tgz
        self.zip = self.src / "pkg-1.0-py3-none-any.whl"
        with zipfile.ZipFile(self.zip, "w") as z:
            z.writestr("pkg/data/a.txt", A)
            z.writestr("pkg/data/b.bin", B)
        self.tgz = self.src / "pkg-1.0.tar.gz"
        with tarfile.open(self.tgz, "w:gz") as t:
            for name, data in (("pkg-1.0/tests/a.txt", A), ("pkg-1.0/tests/b.bin", B)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        self.aptfile = self.src / "system.wav"
        self.aptfile.write_bytes(B)

    def tearDown(self):
        self.tmp.cleanup()

    def lock(self, text: str) -> str:
        p = self.dir / "lock.toml"
        p.write_text(text)
        return str(p)

    def entry(self, archive: Path, prefix: str, file_sha=None, a_sha=None, registry="pypi") -> str:
        return f'''
[[artifact]]
name = "{archive.name}"
registry = "{registry}"
package = "pkg"
version = "1.0"
file = "{archive.name}"
url = "{archive.as_uri()}"
sha256 = "{file_sha or sha(archive.read_bytes())}"
licence = "MIT"
[[artifact.extract]]
member = "{prefix}/a.txt"
dest = "out/{archive.name}/a.txt"
sha256 = "{a_sha or sha(A)}"
[[artifact.extract]]
member = "{prefix}/b.bin"
dest = "out/{archive.name}/b.bin"
sha256 = "{sha(B)}"
'''

    def run_fetch(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = fetch.main(["--root", str(self.root), *args])
        return rc, out.getvalue(), err.getvalue()

    def good_lock(self):
        apt = f'''
[[artifact]]
name = "system sound"
registry = "apt"
package = "sounds"
version = "1"
licence = "GPL-2"
[[artifact.extract]]
member = "{self.aptfile}"
dest = "out/apt/system.wav"
sha256 = "{sha(B)}"
'''
        return self.lock(self.entry(self.zip, "pkg/data") + self.entry(self.tgz, "pkg-1.0/tests", registry="npm") + apt)

    def test_good_path_and_idempotence(self):
        lock = self.good_lock()
        rc, out, err = self.run_fetch(lock)
        self.assertEqual(rc, 0, err)
        for arc in (self.zip, self.tgz):
            self.assertEqual((self.root / "out" / arc.name / "a.txt").read_bytes(), A)
            self.assertEqual((self.root / "out" / arc.name / "b.bin").read_bytes(), B)
            self.assertTrue((self.root / ".deps" / "downloads" / arc.name).is_file())
        self.assertEqual((self.root / "out/apt/system.wav").read_bytes(), B)
        # second run: one line, nothing touched, no download attempted
        stamps = {p: p.stat().st_mtime_ns for p in self.root.rglob("*") if p.is_file()}
        with mock.patch.object(fetch.urllib.request, "urlopen", side_effect=AssertionError("network")):
            rc, out, err = self.run_fetch(lock)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip().count("\n"), 0, out)
        self.assertIn("5 files up to date", out)
        self.assertEqual(err, "")
        self.assertEqual(stamps, {p: p.stat().st_mtime_ns for p in self.root.rglob("*") if p.is_file()})

    def test_repairs_modified_dest_from_cache(self):
        lock = self.good_lock()
        self.assertEqual(self.run_fetch(lock)[0], 0)
        dest = self.root / "out" / self.zip.name / "a.txt"
        dest.write_bytes(b"tampered")
        with mock.patch.object(fetch.urllib.request, "urlopen", side_effect=AssertionError("network")):
            rc, out, err = self.run_fetch(lock)
        self.assertEqual(rc, 0, err)
        self.assertEqual(dest.read_bytes(), A)

    def test_bad_download_sha_is_deleted_and_named(self):
        lock = self.lock(self.entry(self.zip, "pkg/data", file_sha="0" * 64))
        rc, out, err = self.run_fetch(lock)
        self.assertNotEqual(rc, 0)
        self.assertIn(self.zip.name, err)
        self.assertIn("sha256 mismatch", err)
        ddir = self.root / ".deps" / "downloads"
        self.assertEqual([p for p in ddir.iterdir()], [])
        self.assertFalse((self.root / "out").exists())

    def test_bad_member_sha(self):
        lock = self.lock(self.entry(self.tgz, "pkg-1.0/tests", a_sha="1" * 64))
        rc, out, err = self.run_fetch(lock)
        self.assertNotEqual(rc, 0)
        self.assertIn("pkg-1.0/tests/a.txt", err)
        self.assertFalse((self.root / "out" / self.tgz.name / "a.txt").exists())

    def test_missing_member_and_missing_apt_file(self):
        lock = self.lock(self.entry(self.zip, "nope") + '''
[[artifact]]
name = "absent"
registry = "apt"
package = "absent-pkg"
version = "1"
licence = "x"
[[artifact.extract]]
member = "/nonexistent/file.wav"
dest = "out/x.wav"
sha256 = "''' + "2" * 64 + '"\n')
        rc, out, err = self.run_fetch(lock)
        self.assertNotEqual(rc, 0)
        self.assertIn("no member 'nope/a.txt'", err)
        self.assertIn("absent-pkg", err)

    def test_retries_then_fails(self):
        missing = self.src / "gone.whl"
        lock = self.lock(self.entry(self.zip, "pkg/data").replace(self.zip.as_uri(), missing.as_uri()))
        calls = []
        real = fetch.urllib.request.urlopen

        def counting(*a, **k):
            calls.append(1)
            return real(*a, **k)

        with mock.patch.object(fetch.urllib.request, "urlopen", side_effect=counting):
            rc, out, err = self.run_fetch(lock)
        self.assertNotEqual(rc, 0)
        self.assertEqual(len(calls), 3)
        self.assertIn("failed after 3 attempts", err)

    def test_print_sha(self):
        lock = self.lock(self.entry(self.tgz, "pkg-1.0/tests", file_sha="", a_sha=""))
        rc, out, err = self.run_fetch("--print-sha", lock)
        self.assertEqual(rc, 0, err)
        self.assertIn(sha(self.tgz.read_bytes()), out)
        self.assertIn(sha(A), out)
        self.assertIn(sha(B), out)
        self.assertFalse((self.root / "out").exists())

    def test_dest_outside_repo_rejected(self):
        lock = self.lock(self.entry(self.zip, "pkg/data").replace(f"out/{self.zip.name}/a.txt", "../evil.txt"))
        rc, out, err = self.run_fetch(lock)
        self.assertNotEqual(rc, 0)
        self.assertIn("escapes", err)


if __name__ == "__main__":
    unittest.main()
