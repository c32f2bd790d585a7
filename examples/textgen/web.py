"""The text-generation web page: type a start, watch the model continue it token by token.

    python -m examples.textgen serve [--model smollm2|gpt2-tiny] [--port 8016]   # http://127.0.0.1:8016/

A stdlib ``http.server`` on localhost.  ``GET /`` is the page; ``GET /generate?prompt=...&max_new_tokens=
&temperature=&top_k=&top_p=&repetition_penalty=&seed=&chat=0|1`` streams server-sent events: one
``token`` event per token (``{"id", "text"}``, the text it adds), then ``done`` (token count, tokens/s,
prefill and first-token times) or ``failed`` (``{"error"}``).  One generation runs at a time (the model's
KV cache is one); a second request waits for it.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGE = Path(__file__).with_name("page.html")
MAX_PROMPT_CHARS = 20_000


def _params(query: str):
    from .sampling import Sampling
    q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}

    def num(name, kind, default):
        v = q.get(name, "")
        try:
            return kind(v) if v != "" else default
        except ValueError:
            raise ValueError(f"{name} must be a number, not {v!r}") from None

    prompt = q.get("prompt", "")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt is over {MAX_PROMPT_CHARS:,} characters")
    s = Sampling(num("temperature", float, 0.7), num("top_k", int, 40), num("top_p", float, 0.9),
                 num("repetition_penalty", float, 1.0), num("seed", int, None)).check()
    return prompt, q.get("chat", "0") in ("1", "true", "on"), num("max_new_tokens", int, 64), s


def make_handler(engine, tok, model_name: str, runtime: str):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "lpfc-textgen/1"
        protocol_version = "HTTP/1.0"      # the event stream ends when the connection closes

        def log_message(self, fmt, *args):
            pass

        def _send(self, code, body: bytes, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _event(self, name, obj):
            self.wfile.write(f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode("utf-8"))
            self.wfile.flush()

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path in ("/", "/index.html"):
                return self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            if url.path == "/info":
                body = json.dumps({"model": model_name, "runtime": runtime, "prefill": engine.sh.prefill,
                                   "capacity": engine.sh.capacity}).encode()
                return self._send(200, body, "application/json")
            if url.path != "/generate":
                return self._send(404, b'{"error": "no such page"}', "application/json")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self._generate(url.query)

        def _generate(self, query):
            from .cli import Streamer
            from .engine import Stats, TextgenError
            try:
                prompt, chat, new, sampling = _params(query)
                if not prompt.strip():
                    raise ValueError("the prompt is empty: type the start of a text")
                ids = tok.apply_chat(prompt) if chat else tok.encode(prompt)
            except ValueError as e:
                return self._event("failed", {"error": str(e)})
            st, out = Stats(), Streamer(tok)
            with lock:
                t0 = time.perf_counter()
                try:
                    engine.check_room(len(ids), new)
                    for t in engine.generate(ids, new, sampling, st):
                        self._event("token", {"id": t, "text": out.push(t)})
                except TextgenError as e:
                    return self._event("failed", {"error": str(e)})
                except (BrokenPipeError, ConnectionResetError):   # the page stopped listening
                    return
            self._event("done", {"tokens": st.new_tokens, "tokens_per_s": round(st.tokens_per_s, 2),
                                 "prefill_ms": round(st.prefill_s * 1e3, 1),
                                 "first_token_ms": round(st.first_token_s * 1e3, 1),
                                 "total_s": round(time.perf_counter() - t0, 3), "prompt_tokens": st.prompt_tokens,
                                 "model": model_name, "runtime": runtime})

    return Handler


def make_server(engine, tok, model_name: str, runtime: str = "lpfc", port: int = 8016, host: str = "127.0.0.1"):
    """A ThreadingHTTPServer streaming from ``engine`` (port 0: any free port; see server_address)."""
    srv = ThreadingHTTPServer((host, port), make_handler(engine, tok, model_name, runtime))
    srv.daemon_threads = True
    return srv


def main(argv=None) -> int:
    from .cli import open_engine
    from .models import SPECS, ModelUnavailable
    ap = argparse.ArgumentParser(prog="python -m examples.textgen serve", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2", choices=sorted(SPECS))
    ap.add_argument("--port", type=int, default=8016)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--runtime", default="lpfc", choices=("lpfc", "ort"))
    ap.add_argument("--weights", default="fp32", choices=("fp32", "fp16"), help="the decode library's weight storage")
    args = ap.parse_args(argv)
    try:
        engine, tok = open_engine(args.model, args.runtime, args.threads, weights=args.weights)
    except ModelUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    srv = make_server(engine, tok, args.model, args.runtime, args.port)
    print(f"serving the text-generation page on http://127.0.0.1:{srv.server_address[1]}/ "
          f"({args.model} via {args.runtime}; Ctrl-C stops)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
