"""The QA web page: type a question about a paragraph, the answer is highlighted in the text.

    python -m examples.qa serve [--port 8014] [--model DIR]     # then open http://127.0.0.1:8014/

A stdlib ``http.server`` on localhost only. ``GET /`` is the page, ``GET /examples`` a few SQuAD dev
paragraphs with a question each, ``POST /answer`` {question, context} -> the best span (character
offsets), its score, the top alternatives and the compiled model's latency. Inference runs through
the lpfc library (``lpfc.load``); one request at a time goes to the model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 1_000_000


def squad_examples(n: int = 8) -> list[dict]:
    """The first question of ``n`` dev paragraphs from different articles (empty list without the data)."""
    from lpfc.nas.squad import load_squad, squad_dir
    path = squad_dir() / "dev-v1.1.json"
    if not path.exists():
        return []
    out, seen = [], set()
    for e in load_squad(path, 3000):
        if e.context in seen or len(out) >= n:
            continue
        if not out or e.qid[:6] != out[-1].get("_qid", "")[:6]:
            seen.add(e.context)
            out.append({"title": e.context[:60] + "...", "context": e.context, "question": e.question,
                        "_qid": e.qid})
    for o in out:
        o.pop("_qid")
    return out


def make_handler(answerer, examples, runtime: str):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "lpfc-qa/1"

        def log_message(self, fmt, *args):  # quiet: one line per answered question instead
            pass

        def _send(self, code: int, body: bytes, ctype: str):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, obj):
            self._send(code, json.dumps(obj).encode("utf-8"), "application/json; charset=utf-8")

        def do_GET(self):
            if self.path in ("/", "/index.html"):
                self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif self.path == "/examples":
                self._json(200, examples)
            else:
                self._json(404, {"error": f"no such page: {self.path}"})

        def do_POST(self):
            if self.path != "/answer":
                return self._json(404, {"error": f"no such endpoint: {self.path}"})
            from .infer import QAError
            try:
                n = int(self.headers.get("Content-Length") or 0)
                if n > MAX_BODY:
                    return self._json(413, {"error": f"the request is over {MAX_BODY:,} bytes"})
                req = json.loads(self.rfile.read(n).decode("utf-8"))
                question, context = str(req.get("question", "")), str(req.get("context", ""))
            except (ValueError, UnicodeDecodeError) as e:
                return self._json(400, {"error": f"the request is not JSON with question and context: {e}"})
            try:
                with lock:
                    ans = answerer.answer(question, context, top=5)
            except QAError as e:
                return self._json(200, {"error": str(e)})
            spans = [{"text": s.text, "start": s.start, "end": s.end, "score": round(s.score, 3),
                      "prob": round(s.prob, 4)} for s in ans.spans]
            best = spans[0] if spans else None
            print(f"Q: {question[:80]!r} -> {best['text'][:60] if best else None!r} "
                  f"({ans.model_ms:.1f} ms model, {ans.windows} window(s))", flush=True)
            self._json(200, {"answer": best, "alternatives": spans[1:], "model_ms": round(ans.model_ms, 2),
                             "total_ms": round(ans.total_ms, 2), "windows": ans.windows, "runtime": runtime,
                             "notes": ans.notes})

    return Handler


def make_server(answerer, port: int = 8014, host: str = "127.0.0.1", runtime: str = "lpfc", examples=None):
    """A ThreadingHTTPServer answering through ``answerer`` (port 0: any free port; see server_address)."""
    ex = squad_examples() if examples is None else examples
    return ThreadingHTTPServer((host, port), make_handler(answerer, ex, runtime))


def serve(model_dir=None, port: int = 8014, threads=None, runtime: str = "lpfc", buckets=None) -> int:
    from .build import BUCKETS, build_buckets
    from .infer import Answerer
    onnx_paths, libs = build_buckets(model_dir, buckets or BUCKETS)
    answerer = Answerer(libs if runtime == "lpfc" else onnx_paths, runtime, threads)
    srv = make_server(answerer, port, runtime=runtime)
    names = ", ".join(p.name for p in (libs if runtime == "lpfc" else onnx_paths))
    print(f"serving the QA page on http://127.0.0.1:{srv.server_address[1]}/ (models {names} via {runtime}; "
          f"Ctrl-C stops)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m examples.qa serve", description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8014)
    ap.add_argument("--model", default=None, help="trained model directory (default: the newest finished run's model/)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--runtime", default="lpfc", choices=("lpfc", "ort"))
    from .build import add_bucket_argument
    add_bucket_argument(ap)
    args = ap.parse_args(argv)
    return serve(args.model, args.port, args.threads, args.runtime, args.buckets)


if __name__ == "__main__":
    sys.exit(main())
