"""One module per way of running the binary; each mode has ``call(payload, invocation)`` and ``close()``."""
