"""The text-generation app with gpt2-tiny: the CLI streams and reports tokens/s, the web server's event
stream carries exactly the engine's tokens, and in headless Debian Chromium the page shows them
(skipping loudly where Chromium, chromedriver or selenium is missing)."""
import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from examples.textgen.build import build  # noqa: E402
from examples.textgen.cli import Streamer  # noqa: E402
from examples.textgen.engine import Engine  # noqa: E402
from examples.textgen.models import load_tokenizer  # noqa: E402
from examples.textgen.sampling import Sampling  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
from .browser import chromium_driver  # noqa: E402


@pytest.fixture(scope="module")
def server():
    from examples.textgen.web import make_server
    tok = load_tokenizer("gpt2-tiny")
    eng = Engine.open(build("gpt2-tiny"), "lpfc", threads=1, eos_id=tok.eos_token_id)
    srv = make_server(eng, tok, "gpt2-tiny", port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv, eng, tok
    srv.shutdown()
    srv.server_close()


def _expected(eng, tok, prompt, n, **kw):
    ids = list(eng.generate(tok.encode(prompt), n, Sampling(**kw)))
    s = Streamer(tok)
    return ids, "".join(s.push(i) for i in ids)


def _events(srv, **q):
    url = f"http://127.0.0.1:{srv.server_address[1]}/generate?{urlencode(q)}"
    with urllib.request.urlopen(url, timeout=120) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        body = r.read().decode("utf-8")
    out = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_cli_streams_and_reports_speed():
    build("gpt2-tiny")   # built here, so the subprocess only loads
    r = subprocess.run([sys.executable, "-m", "examples.textgen", "Hi", "--model", "gpt2-tiny", "--max-new-tokens",
                        "12", "--temperature", "0.7", "--top-k", "40", "--top-p", "0.9", "--seed", "1",
                        "--repetition-penalty", "1.1", "--threads", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Hi")
    assert "tokens/s (12 tokens" in r.stderr
    r2 = subprocess.run([sys.executable, "-m", "examples.textgen", "Hi", "--model", "gpt2-tiny", "--max-new-tokens",
                         "500"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r2.returncode == 2 and "the compiled cache holds 128" in r2.stderr and "Traceback" not in r2.stderr


def test_event_stream_carries_the_engines_tokens(server):
    srv, eng, tok = server
    ids, text = _expected(eng, tok, "Hello", 20, temperature=0.8, top_k=40, top_p=0.9, seed=3)
    ev = _events(srv, prompt="Hello", max_new_tokens=20, temperature=0.8, top_k=40, top_p=0.9, seed=3)
    assert [d["id"] for e, d in ev if e == "token"] == ids
    assert "".join(d["text"] for e, d in ev if e == "token") == text
    assert ev[-1][0] == "done" and ev[-1][1]["tokens"] == 20
    bad = _events(srv, prompt="x" * 40, max_new_tokens=4)
    assert bad == [("failed", {"error": bad[0][1]["error"]})] and "at most 32" in bad[0][1]["error"]
    assert _events(srv, prompt="Hi", top_p="abc")[0][1]["error"] == "top_p must be a number, not 'abc'"


@pytest.mark.slow
def test_page_streams_tokens_in_chromium(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    srv, eng, tok = server
    ids, text = _expected(eng, tok, "Once upon a time", 24, temperature=0, repetition_penalty=1.3)
    driver = chromium_driver()
    try:
        driver.set_page_load_timeout(60)
        driver.get(f"http://127.0.0.1:{srv.server_address[1]}/")
        wait = WebDriverWait(driver, 120)
        wait.until(lambda d: "gpt2-tiny via lpfc" in d.find_element(By.ID, "info").text)
        for field, value in (("max_new_tokens", "24"), ("temperature", "0"), ("repetition_penalty", "1.3")):
            el = driver.find_element(By.ID, field)
            el.clear()
            el.send_keys(value)
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: d.find_element(By.ID, "output").get_attribute("data-state") == "done")
        gen = driver.find_element(By.ID, "generated")
        assert gen.get_attribute("data-tokens") == str(len(ids))
        assert driver.execute_script("return document.getElementById('generated').textContent") == text
        assert driver.find_element(By.ID, "shown-prompt").text == "Once upon a time"
        assert "24 tokens" in driver.find_element(By.ID, "stats").text
        shot = Path(os.environ.get("LPFC_TEXTGEN_SCREENSHOT_DIR", tmp_path)) / "textgen-page.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 1000
        # a prompt longer than the prefill: a message, no text
        p = driver.find_element(By.ID, "prompt")
        p.clear()
        p.send_keys("x" * 40)
        driver.find_element(By.ID, "generate").click()
        wait.until(lambda d: d.find_element(By.ID, "output").get_attribute("data-state") == "failed")
        assert "at most 32" in driver.find_element(By.ID, "error").text
    finally:
        driver.quit()
