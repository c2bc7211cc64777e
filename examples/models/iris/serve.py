#!/usr/bin/env python3
"""Example model container: Gaussian naive Bayes on the Iris data set, standard library only.

At start-up it trains on iris.csv (next to this file), logs its training accuracy, and only then
starts listening, so a 200 from GET /ping always means "ready to predict". It speaks the SageMaker
container contract: GET /ping and POST /invocations on $SAGEMAKER_BIND_TO_PORT (or $PORT, or 8080).
"""
import csv
import json
import math
import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
DATA_FILE = os.environ.get("IRIS_CSV") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "iris.csv")
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_ROWS = 100_000
EXPECTED = ("Send Content-Type text/csv with one row of 4 numbers per line (sepal length, sepal width, "
            "petal length, petal width, in cm; a header row is allowed), or application/json "
            '{"instances": [[5.1, 3.5, 1.4, 0.2], ...]}.')


def log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# ---- The model --------------------------------------------------------------------------------

class GaussianNB:
    """P(class | x) ~ P(class) * prod_i Normal(x_i; mean_ci, var_ci): tiny, exact to train, and
    good on Iris (~96% training accuracy) because each species is a compact blob per feature."""

    def fit(self, rows, labels):
        self.classes = sorted(set(labels))
        # A small variance floor (as scikit-learn's var_smoothing) keeps a zero-variance feature from
        # producing infinite densities.
        all_var = max(_variance([r[i] for r in rows]) for i in range(len(FEATURES)))
        epsilon = 1e-9 * all_var
        self.log_prior, self.mean, self.var = {}, {}, {}
        for c in self.classes:
            members = [r for r, l in zip(rows, labels) if l == c]
            self.log_prior[c] = math.log(len(members) / len(rows))
            self.mean[c] = [sum(r[i] for r in members) / len(members) for i in range(len(FEATURES))]
            self.var[c] = [_variance([r[i] for r in members]) + epsilon for i in range(len(FEATURES))]
        return self

    def predict_proba(self, x):
        # Work in log space and subtract the max before exponentiating so far-away inputs do not
        # underflow every class to 0.
        scores = {}
        for c in self.classes:
            s = self.log_prior[c]
            for xi, m, v in zip(x, self.mean[c], self.var[c]):
                s += -0.5 * math.log(2 * math.pi * v) - (xi - m) ** 2 / (2 * v)
            scores[c] = s
        top = max(scores.values())
        exp = {c: math.exp(s - top) for c, s in scores.items()}
        total = sum(exp.values())
        return {c: e / total for c, e in exp.items()}

    def predict(self, x):
        probs = self.predict_proba(x)
        return max(probs, key=probs.get), probs


def _variance(values):
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def train():
    with open(DATA_FILE, newline="") as f:
        reader = csv.DictReader(f)
        data = [([float(r[name]) for name in FEATURES], r["species"]) for r in reader]
    rows, labels = [r for r, _ in data], [l for _, l in data]
    model = GaussianNB().fit(rows, labels)
    correct = sum(1 for r, l in data if model.predict(r)[0] == l)
    log(f"iris: trained Gaussian naive Bayes on {len(data)} rows; training accuracy "
        f"{correct / len(data):.3f} ({correct}/{len(data)})")
    return model


# ---- Input parsing ----------------------------------------------------------------------------

class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _number(value, where):
    # bool is an int in Python; true/false as a measurement is a client bug worth reporting.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HttpError(400, f"{where} is {json.dumps(value)}, not a finite number. {EXPECTED}")
    return float(value)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_csv(text):
    rows = []
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for n, line in lines:
        cells = [c.strip() for c in next(csv.reader([line]))]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if n == lines[0][0] and not any(_is_number(c) for c in cells):
                continue  # a header row; a half-numeric first line is a typo and gets reported
            raise HttpError(400, f"line {n}: {line.strip()!r} is not 4 comma-separated numbers. {EXPECTED}")
        if len(values) != len(FEATURES) or not all(math.isfinite(v) for v in values):
            raise HttpError(400, f"line {n} has {len(values)} values, expected 4 finite numbers. {EXPECTED}")
        rows.append(values)
    return rows


def parse_json(text):
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise HttpError(400, f"body is not valid JSON ({e}). {EXPECTED}")
    instances = doc.get("instances") if isinstance(doc, dict) else doc
    if not isinstance(instances, list):
        raise HttpError(400, f'missing "instances": a list of rows of 4 numbers. {EXPECTED}')
    rows = []
    for i, row in enumerate(instances):
        if not isinstance(row, list) or len(row) != len(FEATURES):
            raise HttpError(400, f"instances[{i}] is {json.dumps(row)[:80]}, expected a list of 4 numbers. {EXPECTED}")
        rows.append([_number(v, f"instances[{i}][{j}]") for j, v in enumerate(row)])
    return rows


def media_type(header):
    return (header or "").split(";")[0].strip().lower()


def choose_output(accept):
    """Pick the response type from Accept; JSON unless the client asks for CSV (or only accepts CSV)."""
    if not accept:
        return "application/json"
    for part in accept.split(","):
        kind = media_type(part)
        if kind in ("application/json", "application/*", "*/*"):
            return "application/json"
        if kind in ("text/csv", "text/*"):
            return "text/csv"
    raise HttpError(406, f"cannot produce {accept!r}; use Accept application/json or text/csv")


# ---- The container contract -------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response therefore carries Content-Length
    server_version = "iris-example/1.0"
    model = None  # set before the server starts

    def do_GET(self):
        self._dispatch(self._ping if self._path() == "/ping" else None, "GET")

    def do_POST(self):
        self._dispatch(self._invocations if self._path() == "/invocations" else None, "POST")

    def do_PUT(self):
        self._dispatch(None, "PUT")

    do_DELETE = do_PATCH = do_PUT

    def _path(self):
        return self.path.split("?", 1)[0]

    def _dispatch(self, action, method):
        started = time.perf_counter()
        self._body_read = False  # one handler serves every request of a keep-alive connection
        self.server.inflight_change(+1)
        try:
            try:
                if action is None:
                    path = self._path()
                    if path in ("/ping", "/invocations"):
                        raise HttpError(405, f"{method} is not allowed; use GET /ping and POST /invocations")
                    raise HttpError(404, f"no such path {path}; this container serves GET /ping and POST /invocations")
                status, content_type, body = action()
            except HttpError as e:
                status, content_type, body = e.status, "application/json", json.dumps({"error": str(e)}).encode()
                # An unread request body would be parsed as the next request: close the connection.
                if self._body_pending():
                    self.close_connection = True
            except Exception as e:  # noqa: BLE001 - a model bug must still produce an answer
                log(f"iris: internal error: {e!r}")
                status, content_type = 500, "application/json"
                body = json.dumps({"error": f"internal error: {e}"}).encode()
                self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        finally:
            self.server.inflight_change(-1)
        ms = (time.perf_counter() - started) * 1000
        inference_id = self.headers.get("X-Amzn-SageMaker-Inference-Id") or "-"
        log(f"{datetime.now(timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z')} "
            f"{method} {self._path()} {status} {ms:.1f}ms id={inference_id}")

    def _body_pending(self):
        if self._body_read:
            return False
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        return chunked or (self.headers.get("Content-Length") or "0").strip() != "0"

    def _ping(self):
        return 200, "text/plain", b""

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = bytearray()
            while True:
                try:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    raise HttpError(400, "malformed chunked request body")
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # skip trailers
                    break
                if len(data) + size > MAX_BODY_BYTES:
                    raise HttpError(413, f"payload larger than {MAX_BODY_BYTES} bytes")
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise HttpError(400, "malformed Content-Length header")
            if length > MAX_BODY_BYTES:
                raise HttpError(413, f"payload larger than {MAX_BODY_BYTES} bytes")
            data = self.rfile.read(length)
        self._body_read = True
        return bytes(data)

    def _invocations(self):
        content_type = media_type(self.headers.get("Content-Type"))
        if content_type not in ("text/csv", "application/json"):
            raise HttpError(415, f"unsupported Content-Type {content_type or '(none)'!r}. {EXPECTED}")
        output = choose_output(self.headers.get("Accept"))
        try:
            text = self._read_body().decode("utf-8-sig")  # tolerate a BOM from spreadsheet exports
        except UnicodeDecodeError:
            raise HttpError(400, f"body is not valid UTF-8. {EXPECTED}")
        rows = parse_csv(text) if content_type == "text/csv" else parse_json(text)
        if not rows:
            raise HttpError(400, f"no rows to predict. {EXPECTED}")
        if len(rows) > MAX_ROWS:
            raise HttpError(400, f"{len(rows)} rows is more than the {MAX_ROWS} allowed per request")
        results = [self.model.predict(r) for r in rows]
        if output == "text/csv":
            return 200, "text/csv", "".join(label + "\n" for label, _ in results).encode()
        predictions = [{"label": label, "probabilities": {c: round(p, 6) for c, p in probs.items()}}
                       for label, probs in results]
        return 200, "application/json", json.dumps({"predictions": predictions}).encode()

    def log_request(self, code="-", size="-"):
        pass  # replaced by the one-line log in _dispatch

    def log_message(self, format, *args):
        log(f"iris: {self.address_string()} {format % args}")  # protocol errors (bad request lines etc.)


class Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not keep the process alive at exit
    # socketserver's default listen backlog is 5: a burst of parallel connections beyond that waits
    # for a SYN retry (about a second). Callers open up to MaxConcurrentInvocationsPerInstance at once.
    request_queue_size = 128

    def __init__(self, *args):
        super().__init__(*args)
        self._inflight = 0
        self._idle = threading.Condition()

    def inflight_change(self, delta):
        with self._idle:
            self._inflight += delta
            self._idle.notify_all()

    def wait_idle(self, timeout):
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout)


def env_port():
    raw = os.environ.get("SAGEMAKER_BIND_TO_PORT") or os.environ.get("PORT") or "8080"
    if not raw.isdigit() or int(raw) > 65535:
        log(f"iris: invalid port {raw!r} in SAGEMAKER_BIND_TO_PORT/PORT")
        sys.exit(1)
    return int(raw)


def main():
    Handler.model = train()  # train first: nothing listens until the model is ready
    host = os.environ.get("HOST") or "127.0.0.1"
    server = Server((host, env_port()), Handler)
    log(f"iris: listening on http://{host}:{server.server_address[1]}")

    def stop(signum, _frame):
        log(f"iris: {signal.Signals(signum).name} received, closing")
        # shutdown() blocks until serve_forever returns, so it cannot run on the serving thread itself.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    server.wait_idle(timeout=5)  # let in-flight predictions finish writing, but not forever
    sys.exit(0)


if __name__ == "__main__":
    main()
