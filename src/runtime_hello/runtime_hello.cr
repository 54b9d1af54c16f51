# The article's "custom runtime" example: a Crystal program that is its own Lambda runtime, looping on
# the Runtime API with HTTP::Client. Under exec-bridge it runs unchanged inside the python3 runtime
# (BRIDGE_MODE=runtime-api). Answers {"message": "Hello from Crystal", "event": <event>}; the event
# "fail" posts a typed error.
require "http/client"
require "json"

api = ENV["AWS_LAMBDA_RUNTIME_API"]
client = HTTP::Client.new(URI.parse("http://#{api}"))
base = "/2018-06-01/runtime"

loop do
  response = client.get("#{base}/invocation/next")
  request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
  event = JSON.parse(response.body)
  STDERR.puts "handling #{request_id}"
  if event.as_s? == "fail"
    body = {errorMessage: "the event asked to fail", errorType: "Crystal.RequestedFailure"}.to_json
    headers = HTTP::Headers{"Lambda-Runtime-Function-Error-Type" => "Crystal.RequestedFailure"}
    client.post("#{base}/invocation/#{request_id}/error", headers: headers, body: body)
  else
    client.post("#{base}/invocation/#{request_id}/response", body: {message: "Hello from Crystal", event: event}.to_json)
  end
end
