"""The QA web server's endpoints (no browser: see test_qa_browser.py)."""
import json
import threading
import urllib.error
import urllib.request

import pytest

from examples.qa.infer import Answer, QAError
from lpfc.nas.squad import Span


class FakeAnswerer:
    """Answers with the first word of the paragraph: the server's plumbing, without a model."""

    def answer(self, question, context, top=5):
        if not context.strip():
            raise QAError("the paragraph is empty: paste a paragraph that may contain the answer")
        w = context.split()[0]
        i = context.index(w)
        return Answer([Span(w, i, i + len(w), 7.5, 0.9), Span(context[i:i + 3], i, i + 3, 1.0, 0.1)], 1, 3.2, 4.0)


@pytest.fixture
def server():
    from examples.qa.web import make_server
    srv = make_server(FakeAnswerer(), port=0, examples=[{"title": "t", "context": "Paris is big.", "question": "q"}])
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def post(url, body: bytes):
    req = urllib.request.Request(url + "/answer", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_page_and_examples(server):
    with urllib.request.urlopen(server + "/", timeout=30) as r:
        html = r.read().decode()
    assert 'id="question"' in html and 'id="context"' in html and "/answer" in html
    with urllib.request.urlopen(server + "/examples", timeout=30) as r:
        assert json.loads(r.read())[0]["context"] == "Paris is big."


def test_answer_endpoint(server):
    code, res = post(server, json.dumps({"question": "Which?", "context": "  Ünïcode text here"}).encode())
    assert code == 200
    assert res["answer"] == {"text": "Ünïcode", "start": 2, "end": 9, "score": 7.5, "prob": 0.9}
    assert res["alternatives"][0]["text"] == "Ünï" and res["model_ms"] == 3.2 and res["runtime"] == "lpfc"


@pytest.mark.parametrize("body, code, words", [
    (json.dumps({"question": "Which?", "context": ""}).encode(), 200, "paragraph is empty"),
    (b"not json", 400, "not JSON"),
    ("{\"question\": \"\xff\"}".encode("latin-1"), 400, "not JSON"),
])
def test_bad_requests_get_a_message(server, body, code, words):
    got, res = post(server, body)
    assert got == code and words in res["error"]


def test_unknown_paths_are_404(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server + "/nope", timeout=30)
    assert e.value.code == 404
