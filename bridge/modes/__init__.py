"""One module per way of running the binary, all on the pipe core in ``bridge.process``.

Every mode has ``close()``; ``oneshot``, ``persistent`` and ``runtime_api`` answer
``call(payload, invocation)`` with raw stdout or an already ``Decoded`` result; ``cgi`` answers
``serve(request, invocation)`` with an HTTP response, as it only serves HTTP events.
"""
