"""The Lambda entry point (``handler: handler.handler``) and the local CLI (``python handler.py < event.json``).

The bridge is configured here, at import, which Lambda runs once per cold start in its init phase: a
broken package (missing binary, bad BRIDGE_* value) fails the init with a typed error instead of
failing every call.
"""

import os
import sys

# The function's own code: where bin/ is. Lambda says where (/var/task), and this file may be elsewhere, in
# a layer (/opt/python). Local tools set LAMBDA_TASK_ROOT to a /var/task that does not exist here (osls
# invoke local): then, as in the CLI, the function's code is beside this file.
_LAMBDA_TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "")
TASK_ROOT = _LAMBDA_TASK_ROOT if os.path.isdir(_LAMBDA_TASK_ROOT) else os.path.dirname(os.path.abspath(__file__))


def handler(event, context):
    """Lambda's python3 runtime calls this for every invocation."""
    return _bridge.invoke(event, context)


if __name__ == "__main__":
    from bridge.cli import main

    sys.exit(main(TASK_ROOT))
else:
    from bridge import handoff

    if handoff.requested(os.environ):  # runtime-api mode under a runtime client: become the bootstrap
        handoff.hand_over(TASK_ROOT)  # does not return (a failure raises a typed init error)
    from bridge.bridge import Bridge

    _bridge = Bridge.from_environ(TASK_ROOT)
