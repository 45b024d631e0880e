"""`dlserve import --task text-generation`: the course's PoetryRNN (9.4), trained for seconds, writes poems.

The network is the course's class unchanged (nn.RNN's [steps, rows] layout, `hx=None`), its vocabulary the
course's list of characters plus `<UNK>`, saved with json.dump. Served, it must answer every step as the
course's own generation loop runs it, and write poems of the asked shape through every generation door.
"""

import json

import pytest
import torch

from app.cli import main
from app.models.torchscript import load_torchscript
from tests.api.conftest import ROOT, assert_error, make_client
from tests.students import POETRY_RNN, network_class, poem_import_args, train_poetry_rnn

pytestmark = pytest.mark.dataset


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return train_poetry_rnn(tmp_path_factory.mktemp("poem-student"))


@pytest.fixture(scope="module")
def repository(student, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("models")
    assert run(poem_import_args(student, model_dir)) == 0
    rhymes = ROOT / "models" / "poem" / "rhymes.json"
    assert run(poem_import_args(student, model_dir, "tang-rhymed", "--rhymes", str(rhymes))) == 0
    return model_dir


def test_the_served_network_answers_a_real_poem_step_by_step_as_the_courses_loop_runs_it(student, repository):
    vocab = json.loads((student.folder / "vocab.json").read_text(encoding="utf-8"))
    served = json.loads((repository / "tang" / "vocab.json").read_text(encoding="utf-8"))["tokens"]
    module = load_torchscript(str(repository / "tang" / "model.pt"))
    line = (ROOT / "data" / "poems" / "poems.txt").read_text(encoding="utf-8").splitlines()[300]  # not trained on
    assert "，" in line and "。" in line and "，" not in vocab  # the course strips what the decoder feeds
    theirs, ours = [vocab.index(t) for t in served[4:] if t in vocab], [i for i, t in enumerate(served) if t in vocab]
    hidden, state, got = None, module.initial_hidden(1), []
    with torch.inference_mode():
        logits, state = module(torch.tensor([[served.index("<bos>")]]), state)
        out, hidden = student.net(torch.tensor([[vocab.index("<UNK>")]]), hidden)  # the course seeds with <UNK>
        for char in line:
            assert torch.allclose(logits[0, -1, ours], out[0, 0, theirs], atol=1e-5), char
            if char in vocab:  # the course's loop feeds characters only; a mark leaves its state as it was
                out, hidden = student.net(torch.tensor([[vocab.index(char)]]), hidden)
            token = served.index(char) if char in served else served.index("<unk>")
            logits, state = module(torch.tensor([[token]]), state)
            got.append(int(logits[0, -1].argmax()))
    assert len(set(got)) > 3  # a network that learnt something, so equal answers mean something


def test_poems_of_the_asked_shape_through_every_generation_door(repository):
    with make_client(model_dir=repository) as client:
        poem = client.post("/generate/tang", json={"line_num": 8, "line_length": 5, "seed": 3, "start": "春"})
        assert poem.status_code == 200, poem.text
        lines = poem.json()["lines"]
        assert len(lines) == 8 and all(len(line) == 6 for line in lines) and lines[0].startswith("春")
        assert "rhyme_group" not in poem.json()  # no rhyme tables: a free poem unless asked
        again = client.post("/generate/tang", json={"line_num": 8, "line_length": 5, "seed": 3, "start": "春"})
        assert again.json() == poem.json()
        stream = client.post("/generate/tang/stream", json={"line_num": 8, "line_length": 5, "seed": 3, "start": "春"})
        assert stream.status_code == 200
        chars = [json.loads(line[6:])["char"] for line in stream.text.splitlines()
                 if line.startswith("data: ") and '"char"' in line]  # fmt: skip
        assert "".join(chars) == "".join(lines)
        parameters = {"line_num": 8, "line_length": 5, "seed": 3}
        v2 = client.post("/v2/models/tang/generate", json={"text_input": "春", "parameters": parameters})
        assert v2.status_code == 200 and v2.json()["lines"] == lines, v2.text
        rhymed = client.post("/generate/tang-rhymed", json={"seed": 3, "rhyme": "pingshui", "tones": "loose"})
        assert rhymed.status_code == 200 and rhymed.json()["rhyme_group"], rhymed.text
        models = {m["name"]: m for m in client.get("/models").json()}
        assert models["tang"]["status"] == "ready" and models["tang"]["task"] == "text-generation"


def test_what_the_model_cannot_do_is_a_clear_4xx(repository):
    with make_client(model_dir=repository) as client:
        assert_error(client.post("/generate/tang", json={"rhyme": "pingshui"}), 422, "invalid_input", "rhyme")
        unknown = client.post("/generate/tang", json={"start": "ABC"})
        assert_error(unknown, 422, "invalid_input", "not in the vocabulary")


def test_the_folder_records_its_source_and_the_networks_layout(repository):
    meta = json.loads((repository / "tang" / "meta.json").read_text(encoding="utf-8"))
    assert meta["task"] == "text-generation" and meta["imported"]["from"] == "poetry.py"
    assert meta["architecture"]["layout"] == "[steps, rows]" and meta["architecture"]["layers"] == 2
    assert sorted(p.name for p in (repository / "tang").iterdir()) == ["meta.json", "model.pt", "vocab.json"]


def test_a_word2idx_object_is_taken_for_the_vocabulary(student, tmp_path):
    vocab = json.loads((student.folder / "vocab.json").read_text(encoding="utf-8"))
    (tmp_path / "word2idx.json").write_text(json.dumps({w: i for i, w in enumerate(vocab)}), encoding="utf-8")
    argv = poem_import_args(student, tmp_path / "models")
    argv[argv.index("--vocab") + 1] = str(tmp_path / "word2idx.json")
    (tmp_path / "models").mkdir()
    assert run(argv) == 0


def refused(argv: list[str], model_dir, capsys) -> str:
    assert run(argv) == 2
    assert list(model_dir.iterdir()) == []
    return capsys.readouterr().err


def test_a_vocabulary_of_another_size_is_refused(student, tmp_path, capsys):
    vocab = json.loads((student.folder / "vocab.json").read_text(encoding="utf-8"))
    (tmp_path / "short.json").write_text(json.dumps(vocab[5:]), encoding="utf-8")
    argv = poem_import_args(student, tmp_path / "models")
    argv[argv.index("--vocab") + 1] = str(tmp_path / "short.json")
    (tmp_path / "models").mkdir()
    error = refused(argv, tmp_path / "models", capsys)
    assert f"predicts {len(vocab)} tokens but the vocabulary has {len(vocab) - 5}" in error


def test_a_vocabulary_without_a_start_token_is_refused(student, tmp_path, capsys):
    vocab = json.loads((student.folder / "vocab.json").read_text(encoding="utf-8"))
    (tmp_path / "plain.json").write_text(json.dumps([*vocab[:-1], "?"]), encoding="utf-8")
    argv = poem_import_args(student, tmp_path / "models")
    argv[argv.index("--vocab") + 1] = str(tmp_path / "plain.json")
    (tmp_path / "models").mkdir()
    assert "no token to begin a poem with" in refused(argv, tmp_path / "models", capsys)


def test_an_lstm_is_refused_with_what_to_use(student, tmp_path, capsys):
    lstm = POETRY_RNN.replace("nn.RNN(", "nn.LSTM(")
    (tmp_path / "lstm.py").write_text(lstm, encoding="utf-8")
    torch.save(network_class(lstm, "PoetryRNN")(**student.args).state_dict(), tmp_path / "lstm.params")
    argv = poem_import_args(student, tmp_path / "models")
    argv[2:5] = [str(tmp_path / "lstm.py"), "--state-dict", str(tmp_path / "lstm.params")]
    (tmp_path / "models").mkdir()
    assert "use nn.RNN or nn.GRU" in refused(argv, tmp_path / "models", capsys)


def test_a_vocabulary_is_required(student, tmp_path, capsys):
    argv = poem_import_args(student, tmp_path / "models")
    del argv[argv.index("--vocab") : argv.index("--vocab") + 2]
    (tmp_path / "models").mkdir()
    assert "needs its vocabulary: --vocab" in refused(argv, tmp_path / "models", capsys)
