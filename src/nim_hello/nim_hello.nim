## Answers like the C `hello`: the event on stdin (any JSON), a greeting with its size and request id.
## Built by ../../build.sh: static, through musl-gcc.
import std/[json, os]

let event = readAll(stdin)
try:
  discard parseJson(event)
except JsonParsingError as error:
  stderr.writeLine($(%*{"errorType": "InvalidEvent", "errorMessage": error.msg}))
  quit(1)
stderr.writeLine("nim_hello got " & $event.len & " bytes")
echo $(%*{"message": "Hello from Nim", "eventBytes": event.len,
          "requestId": getEnv("LAMBDA_REQUEST_ID")})
