#!/usr/bin/env python3
"""A CGI program that answers with the meta-variables it was given, as JSON (tests/test_events.py)."""
import json
import os
import sys

body = sys.stdin.buffer.read().decode("utf-8", "replace")
names = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH")
variables = {k: v for k, v in os.environ.items() if k in names or k.startswith("HTTP_")}
sys.stdout.write("Content-Type: application/json\r\n\r\n" + json.dumps({"env": variables, "body": body}))
