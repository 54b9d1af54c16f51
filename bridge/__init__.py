"""exec-bridge: run a bundled binary as a native python3 Lambda function.

See README.md for configuration and docs/protocol.md for what the binary sees.
"""
