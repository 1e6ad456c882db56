"""doodlelab.js, the embeddable module, in real Chromium against the real app: the shipped int8 classifier run
by ONNX Runtime Web names test-split drawings as the Python Recognizer (the server's) does, in the page and in
its Web Worker; bad input is a clear Error; /models/ serves the exports; the vendored ONNX Runtime Web files
are the pinned ones (scripts/vendor_onnxruntime_web.py refuses changed bytes, checked without network)."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from tests.web.pagekit import ROOT


def vendor_script():
    path = ROOT / "scripts" / "vendor_onnxruntime_web.py"
    spec = importlib.util.spec_from_file_location("vendor_onnxruntime_web", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vendored_files_are_the_pinned_ones():
    vendor = vendor_script()
    checked = vendor.check(vendor.OUT)
    assert sorted(p.name for p in checked) == ["ort-wasm-simd-threaded.wasm", "ort.wasm.bundle.min.mjs"]
    header = (vendor.OUT / "ort.wasm.bundle.min.mjs").read_text(encoding="utf-8")[:200]
    assert f"ONNX Runtime Web v{vendor.VERSION}" in header
    assert "MIT License" in (vendor.OUT / "LICENSE").read_text(encoding="utf-8")


def test_checksum_refuses_a_changed_file(tmp_path):
    vendor = vendor_script()
    copy = tmp_path / "onnxruntime-web"
    shutil.copytree(vendor.OUT, copy)
    assert len(vendor.check(copy)) == 2
    wasm = copy / "ort-wasm-simd-threaded.wasm"
    data = bytearray(wasm.read_bytes())
    data[len(data) // 2] ^= 1  # one bit
    wasm.write_bytes(bytes(data))
    with pytest.raises(vendor.ChecksumError, match="ort-wasm-simd-threaded.wasm: sha256"):
        vendor.check(copy)
    tarball = tmp_path / "onnxruntime-web.tgz"  # what the script does with a download: verify, then unpack
    tarball.write_bytes(b"not the pinned tarball")
    with pytest.raises(vendor.ChecksumError, match="expected " + vendor.SHA256):
        vendor.verify(tarball.read_bytes(), vendor.SHA256, "tarball")
