"""End to end in a real browser: headless Debian Chromium types a question on the QA page and the answer
from the lpfc-compiled (tiny) model is highlighted in the paragraph. Takes a screenshot.

Skips loudly, with the reason, where Chromium, chromedriver or selenium is missing
(scripts/setup.sh installs `chromium chromium-driver`; selenium is in the `test` extra).
"""
import os
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

from .browser import chromium_driver  # noqa: E402
CONTEXT = ("The Amazon rainforest covers much of the Amazon basin of South America. "
           "This basin encompasses seven million square kilometres, of which five and a half million "
           "square kilometres are covered by the rainforest.")


def test_question_answered_and_highlighted_in_chromium(tiny_build, tokenizer, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from examples.qa.infer import Answerer
    from examples.qa.web import make_server

    answerer = Answerer(tiny_build[1], "lpfc", threads=1, tokenizer=tokenizer)
    expected = answerer.answer("How large is the basin?", CONTEXT).best
    srv = make_server(answerer, port=0, examples=[{"title": "Amazon", "context": CONTEXT,
                                                   "question": "How large is the basin?"}])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    driver = chromium_driver()
    try:
        driver.set_page_load_timeout(60)
        driver.get(f"http://127.0.0.1:{srv.server_address[1]}/")
        wait = WebDriverWait(driver, 120)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#examples option")) == 2)
        ctx = driver.find_element(By.ID, "context")
        ctx.send_keys(CONTEXT)
        q = driver.find_element(By.ID, "question")
        q.send_keys("How large is the basin?")
        driver.find_element(By.ID, "ask").click()
        mark = wait.until(EC.visibility_of_element_located((By.ID, "highlight")))
        start, end = int(mark.get_attribute("data-start")), int(mark.get_attribute("data-end"))
        assert (start, end) == (expected.start, expected.end)
        assert mark.text == CONTEXT[start:end].strip() == expected.text.strip()
        assert mark.tag_name == "mark"
        passage = driver.find_element(By.ID, "passage").text
        assert passage.replace("\n", " ").strip() == CONTEXT.strip()
        assert driver.find_element(By.ID, "answer").text == expected.text.strip()
        assert "ms in the compiled model (lpfc" in driver.find_element(By.ID, "latency").text
        shot = Path(os.environ.get("LPFC_QA_SCREENSHOT_DIR", tmp_path)) / "qa-page.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 1000
        # an empty paragraph: a message on the page, no highlight
        ctx.clear()
        driver.find_element(By.ID, "ask").click()
        wait.until(lambda d: "paragraph is empty" in d.find_element(By.ID, "error").text)
        assert not driver.find_element(By.ID, "result").is_displayed()
    finally:
        driver.quit()
        srv.shutdown()
        srv.server_close()
