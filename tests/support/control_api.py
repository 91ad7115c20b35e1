"""The fakes' control API: JSON over HTTP on 127.0.0.1, a handler per path."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(get=None, post=None):
    """Serves `get` {path: () -> body} and `post` {path: (request body) -> body} on a free
    port of 127.0.0.1 from a daemon thread; the port."""
    get, post = get or {}, post or {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path not in get:
                self.send_error(404)
                return
            self.reply(get[self.path]())

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path not in post:
                self.send_error(404)
                return
            self.reply(post[self.path](body))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]
