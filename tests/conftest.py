"""The environment every test runs in, and builders for tiny source packages in their real formats (.deb, npm .tgz,
wheel), shared by the data tests."""

import io
import os
import subprocess
import tarfile
import zipfile

import pytest

# The apps built in this process (TestClient) must not each take port 8001 for gRPC; the live servers, which
# the gRPC tests drive, get a free port of their own (tests/deploy/live_server.py).
os.environ["GRPC_PORT"] = "0"


def _tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _ar_bytes(members: dict[str, bytes]) -> bytes:
    """A Unix `ar` archive laid out as dpkg writes it: 60-byte headers, members padded to even offsets."""
    out = bytearray(b"!<arch>\n")
    for name, content in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n".encode("ascii")
        assert len(header) == 60
        out += header + content + (b"\n" if len(content) % 2 else b"")
    return bytes(out)


@pytest.fixture
def make_deb():
    """make_deb(path, data_files, *, compression="xz", member_suffix="") writes a .deb holding `data_files`.

    Keys of `data_files` are tar member names such as "./usr/share/datasets/fashion-mnist/x.gz". With
    compression="gz" (older dpkg) the control member is made odd-sized, so ar's padding byte follows it.
    """

    def build(path, data_files, *, compression="xz", member_suffix=""):
        control, padding = b"", 0
        while not control or (compression == "gz" and len(control) % 2 == 0):
            control_file = b"Package: dataset-fashion-mnist\nVersion: 1.0\n" + b"#" * padding
            control = _tar_bytes({"./control": control_file}, f"w:{compression}")
            padding += 1
        members = {
            "debian-binary" + member_suffix: b"2.0\n",
            f"control.tar.{compression}" + member_suffix: control,
            f"data.tar.{compression}" + member_suffix: _tar_bytes(data_files, f"w:{compression}"),
        }
        path.write_bytes(_ar_bytes(members))
        return path

    return build


@pytest.fixture
def make_tgz():
    """make_tgz(path, files) writes a gzipped tarball (what `npm pack` produces) with `files` {name: bytes}."""

    def build(path, files):
        path.write_bytes(_tar_bytes(files, "w:gz"))
        return path

    return build


@pytest.fixture
def make_zip():
    """make_zip(path, files) writes a zip archive (a wheel is one) with `files` {name: bytes}."""

    def build(path, files):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, content in files.items():
                zf.writestr(name, content)
        return path

    return build


@pytest.fixture
def no_subprocess(monkeypatch):
    """Fail the test if anything tries to run an external command (npm, apt-get, pip)."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"subprocess.run called unexpectedly: {args}")

    monkeypatch.setattr(subprocess, "run", forbidden)
