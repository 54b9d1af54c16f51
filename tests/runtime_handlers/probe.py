"""A small Python Lambda handler, run by the real awslambdaric in the tests."""

import os
import time


class OrderRejected(Exception):
    pass


def handler(event, context):
    if event == "fail":
        raise OrderRejected("out of stock")
    if event == "print":
        print("a line printed by the handler")
    if isinstance(event, dict) and "sleep" in event:  # keeps this worker busy
        time.sleep(event["sleep"])
    return {
        "event": event,
        "pid": os.getpid(),
        "requestId": context.aws_request_id,
        "functionArn": context.invoked_function_arn,
        "functionName": context.function_name,
        "remainingMs": context.get_remaining_time_in_millis(),
        "traceId": os.environ.get("_X_AMZN_TRACE_ID"),
    }
