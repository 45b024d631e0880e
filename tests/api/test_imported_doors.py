"""Models imported from the course's files, served by a real server through the Open Inference Protocol doors.

A LeNet, a house-price network and a PoetryRNN, each trained here by the course's recipe and saved as its
state_dict, are imported with `dlserve import` into a model repository of their own; Triton's clients
(tritonclient.grpc and tritonclient.http) then ask the server for what eager PyTorch answers.
"""

from __future__ import annotations

import queue

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
import tritonclient.grpc as triton
import tritonclient.http as triton_http

from app.cli import main
from tests.api.test_v2_tritonclient import house_inputs
from tests.deploy.live_server import serving
from tests.students import (
    FASHION_TEST,
    HOUSES,
    course_house_features,
    house_import_args,
    lenet_import_args,
    poem_import_args,
    train_house_mlp,
    train_lenet,
    train_poetry_rnn,
)
from training.data.images import read_image_csv

pytestmark = [pytest.mark.live, pytest.mark.dataset]


def imported(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0


@pytest.fixture(scope="module")
def students(tmp_path_factory):
    folder = tmp_path_factory.mktemp("students")
    return {"lenet": train_lenet(folder), "houses": train_house_mlp(folder), "tang": train_poetry_rnn(folder)}


@pytest.fixture(scope="module")
def server(students, tmp_path_factory):
    models = tmp_path_factory.mktemp("repository")
    imported(lenet_import_args(students["lenet"], models))
    imported(house_import_args(students["houses"], models))
    imported(poem_import_args(students["tang"], models))
    with serving(tmp_path_factory.mktemp("imported") / "server.log", MODEL_DIR=str(models)) as live:
        yield live


def test_a_thousand_test_images_over_grpc_and_v2_rest_get_eager_pytorchs_labels(students, server):
    images, _ = read_image_csv(FASHION_TEST, require_label=True)
    images = images[:1000]
    with torch.inference_mode():
        want = students["lenet"].net(torch.from_numpy(images.astype("float32")).unsqueeze(1) / 255).argmax(1)
    assert len(set(want.tolist())) >= 5  # a network that learnt something
    over_http = triton_http.InferenceServerClient(server.url.removeprefix("http://"))
    for module, client in ((triton, triton.InferenceServerClient(server.grpc_target)), (triton_http, over_http)):
        labels = []
        for start in range(0, 1000, 250):  # MAX_LIST_ITEMS is 256 unless set
            tensor = module.InferInput("pixels", [250, 784], "UINT8")
            tensor.set_data_from_numpy(images[start : start + 250].reshape(250, 784).astype(np.uint8))
            labels += client.infer("lenet", [tensor]).as_numpy("label").tolist()
        assert labels == want.tolist(), module.__name__


def test_kaggles_test_houses_over_grpc_get_eager_pytorchs_prices(students, server):
    frame = pd.read_csv(HOUSES / "test.csv").head(50)
    x, _, n_train = course_house_features()
    with torch.inference_mode():
        want = students["houses"].net(x[n_train : n_train + 50]).reshape(-1).numpy()
    result = triton.InferenceServerClient(server.grpc_target).infer("houses", house_inputs(frame, triton))
    np.testing.assert_allclose(result.as_numpy("sale_price"), want, rtol=1e-4)


def test_a_poem_over_grpc_and_its_stream_is_the_poem_of_the_rest_door(server):
    options = {"line_num": 4, "line_length": 5, "seed": 11}
    ours = httpx.post(f"{server.url}/generate/tang", json={"start": "山", **options}, timeout=60).json()
    assert len(ours["lines"]) == 4 and ours["lines"][0].startswith("山")
    client = triton.InferenceServerClient(server.grpc_target)
    text = triton.InferInput("text_input", [1], "BYTES")
    text.set_data_from_numpy(np.array(["山".encode()], dtype=object))
    assert client.infer("tang", [text], parameters=options).as_numpy("text_output")[0].decode() == ours["poem"]
    answers: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        client.async_stream_infer("tang", [text], parameters=options)
        characters: list[str] = []
        while True:
            result, error = answers.get(timeout=60)
            assert error is None
            if "triton_final_response" in result.get_response().parameters:
                break
            characters.append(result.as_numpy("text_output")[0].decode())
    finally:
        client.stop_stream()
    assert "".join(characters) == "".join(ours["lines"])
