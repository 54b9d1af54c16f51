"""A WSGI application served as CGI by the standard library's wsgiref.handlers.CGIHandler."""

import json
import sys
from urllib.parse import parse_qs
from wsgiref.handlers import CGIHandler


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/redirect":
        start_response("301 Moved Permanently", [("Location", "/new-home")])
        return [b""]
    if path == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such page\n"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if path == "/upload":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]
    form = parse_qs(body.decode()) if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form") else {}
    reply = {
        "method": environ["REQUEST_METHOD"], "path": path, "query": parse_qs(environ.get("QUERY_STRING", "")),
        "form": form, "host": environ.get("HTTP_HOST"), "cookie": environ.get("HTTP_COOKIE", ""),
    }
    # A WSGI header value is latin-1: "é" leaves as the single byte 0xE9.
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Greeting", "h\u00e9llo"),
                              ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    return [json.dumps(reply).encode()]


if __name__ == "__main__":
    sys.exit(CGIHandler().run(app))
