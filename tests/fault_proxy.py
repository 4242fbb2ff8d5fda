"""A fault-injecting HTTP proxy in front of a real server, for the tracking tests.

Usage: fault_proxy.py PORT UPSTREAM STATE_FILE

Listens on 127.0.0.1:PORT and forwards every request to UPSTREAM (http://host:port) as it is,
until STATE_FILE says otherwise. STATE_FILE holds `MODE AFTER`, re-read at each request:
`pass` forwards everything; `error N` forwards N more requests, then answers every one 500
with an MLflow-shaped error; `hang N` forwards N more, then reads every request and never
answers (the connection stays open until the client gives up). Each request is logged on
stdout as `forwarded|error|hang METHOD PATH`.
"""

import http.client
import http.server
import sys
import threading
import time
import urllib.parse

PORT, UPSTREAM, STATE = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
seen = {"state": None, "count": 0}


def decide():
    """What to do with this request, from the state file and the requests seen since it changed."""
    try:
        text = open(STATE).read().split()
    except FileNotFoundError:
        text = ["pass"]
    mode, after = text[0], int(text[1]) if len(text) > 1 else 0
    with lock:
        if seen["state"] != text:
            seen["state"], seen["count"] = text, 0
        seen["count"] += 1
        return "forwarded" if mode == "pass" or seen["count"] <= after else mode


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        action = decide()
        print(action, self.command, self.path, flush=True)
        if action == "hang":
            while True:
                time.sleep(3600)
        if action == "error":
            payload = b'{"error_code": "INTERNAL_ERROR", "message": "injected fault"}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Proxy)
server.daemon_threads = True
server.serve_forever()
