# Persistent mode, BRIDGE_FRAMING=envelope, in Crystal.
# In:  {"id": ..., "context": {"requestId": ..., "deadlineMs": ..., "traceId": ...}, "event": ...}
# Out: {"id": <same>, "result": ...}  or  {"id": <same>, "error": {"errorType": ..., "errorMessage": ...}}
# Build: crystal build --static --release examples/persistent/envelope.cr -o envelope
require "json"

while line = STDIN.gets
  message = JSON.parse(line)
  id = message["id"]
  event = message["event"]
  STDERR.puts "request #{message["context"]["requestId"]}"
  reply = if event.as_s? == "fail"
            {id: id, error: {errorType: "RequestedFailure", errorMessage: "asked to fail"}}
          else
            {id: id, result: {echo: event}}
          end
  STDOUT.puts(reply.to_json)
  STDOUT.flush
end
