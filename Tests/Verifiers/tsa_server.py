"""A real RFC 3161 time-stamping authority for the tests: `openssl ts -reply` behind a small HTTP handler.

`tsa_server.py CONFIG` listens on 127.0.0.1 (a free port, printed as `tsa: listening on PORT`), answers each POSTed
`application/timestamp-query` with OpenSSL's `application/timestamp-reply` made with CONFIG's [tsa] section, and
prints `tsa: stamped N` after each. It runs until killed.
"""
import http.server
import os
import subprocess
import sys
import tempfile

CONFIG = sys.argv[1]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with tempfile.TemporaryDirectory() as work:
            query, reply = os.path.join(work, "query.tsq"), os.path.join(work, "reply.tsr")
            with open(query, "wb") as handle:
                handle.write(body)
            made = subprocess.run(["openssl", "ts", "-reply", "-config", CONFIG, "-queryfile", query, "-out", reply],
                                  capture_output=True)
            if made.returncode != 0:
                self.send_error(500, made.stderr.decode(errors="replace")[:200])
                return
            with open(reply, "rb") as handle:
                answer = handle.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        count += 1
        print(f"tsa: stamped {count}", flush=True)

    def log_message(self, *arguments):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"tsa: listening on {server.server_address[1]}", flush=True)
server.serve_forever()
