"""A model reloaded while a request's body is still arriving: every door answers that request whole.

The request is provably being read (the server sent `100 Continue`) when the reload starts, and the rest of
its body is sent only after the reload has answered — so the model the request will run on is the new one,
and the old one's batcher or poem scheduler has been retired meanwhile. A door that took the model before
reading the body would queue the request on a retired worker: `/v2/models/poem/generate` then hung until the
server stopped, and `generate_stream` sent its 200 and no event. The data plane holds the model only once the
body is read (app/inference/dataplane.py), so each door here answers 200 with the whole answer.
"""

import json
import socket

import httpx
import pytest

from tests.deploy.live_server import request_being_read, serving
from training.image_examples import DIGIT_PIXELS

pytestmark = pytest.mark.live

ADMIN = "storm-admin"
POEM = {"seed": 3, "line_num": 4, "line_length": 5}
V2_POEM = {"text_input": "", "parameters": {"seed": 3, "line_num": 4, "line_length": 5}}
V2_DIGIT = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": DIGIT_PIXELS}]}
DOORS = [  # (path, model reloaded, body, what a whole answer contains)
    ("/v2/models/poem/generate", "poem", V2_POEM, b'"text_output"'),
    ("/v2/models/poem/generate_stream", "poem", V2_POEM, b'"rhymes"'),  # the last event: the poem's rhymes
    ("/generate/poem", "poem", POEM, b'"poem"'),
    ("/generate/poem/stream", "poem", POEM, b"event: done"),
    ("/predict/digit", "digit", {"pixels": DIGIT_PIXELS}, b'"label"'),
    ("/v2/models/digit/infer", "digit", V2_DIGIT, b'"outputs"'),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("reload") / "server.log", MODEL_CONTROL="explicit",
                      ADMIN_API_KEY=ADMIN, LOG_FORMAT="json", BODY_TIMEOUT_S="60") as live:  # fmt: skip
        yield live


def read_answer(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the request said Connection: close)."""
    conn.settimeout(60)  # a hang fails here, long before the test's own limit
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


@pytest.mark.parametrize(("path", "model", "body", "whole"), DOORS, ids=[door[0] for door in DOORS])
def test_a_reload_while_the_body_arrives_still_gets_a_whole_answer(server, path, model, body, whole):
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nConnection: close\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()  # fmt: skip
    conn = request_being_read(server.port, head, data[:10])
    try:
        reload = httpx.post(f"{server.url}/v2/repository/models/{model}/load", headers={"X-Admin-Key": ADMIN},
                            timeout=120)  # fmt: skip
        assert reload.status_code == 200, reload.text
        conn.sendall(data[10:])
        answer = read_answer(conn)
    finally:
        conn.close()
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 200 OK", answer[:500]
    assert whole in answer, answer[-500:]
    if b"transfer-encoding: chunked" in answer.lower():  # a stream: its last chunk came, the answer is whole
        assert answer.endswith(b"0\r\n\r\n"), answer[-200:]
    served = httpx.get(f"{server.url}/health/ready", timeout=10)
    assert served.status_code == 200, served.text
