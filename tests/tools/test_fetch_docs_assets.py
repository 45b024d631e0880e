"""The docs-asset vendoring script: a tarball is used only if it matches its pinned sha512."""

import hashlib
import io
import tarfile

import pytest

from tools.fetch_docs_assets import ASSETS, AssetError, NpmAsset, extract, npm_integrity


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


PACKAGE = tarball({"dist/ui.js": b"console.log(1)", "LICENSE": b"MIT", "README.md": b"not wanted"})


def pinned(data: bytes, files=("dist/ui.js", "LICENSE")) -> NpmAsset:
    return NpmAsset("ui", "1.0.0", npm_integrity(data), "MIT", files)


def test_extract_copies_only_the_listed_files_flat_with_their_checksums(tmp_path):
    checksums = extract(PACKAGE, pinned(PACKAGE), tmp_path)
    assert checksums == {
        "ui.js": hashlib.sha256(b"console.log(1)").hexdigest(),
        "LICENSE": hashlib.sha256(b"MIT").hexdigest(),
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LICENSE", "ui.js"]


def test_a_tarball_that_differs_from_its_pin_is_refused_before_extracting(tmp_path):
    other = tarball({"dist/ui.js": b"evil()", "LICENSE": b"MIT"})
    with pytest.raises(AssetError, match=r"ui@1.0.0: integrity sha512-.* does not match the pin"):
        extract(other, pinned(PACKAGE), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_listed_file_missing_from_the_package_is_an_error(tmp_path):
    with pytest.raises(AssetError, match=r"ui@1\.0\.0 has no file dist/missing\.js"):
        extract(PACKAGE, pinned(PACKAGE, ("dist/missing.js",)), tmp_path)


def test_npm_integrity_is_npms_sha512_format():
    # The well-known SHA-512 of no bytes, base64-encoded behind npm's "sha512-" prefix.
    assert (
        npm_integrity(b"")
        == "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
    )
    assert {asset.package for asset in ASSETS} == {"swagger-ui-dist", "redoc"}
