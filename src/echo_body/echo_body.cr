# echo_body: the article's first example, in Crystal.
#
# Reads the event (JSON) from stdin and returns its "body" field as the function's response.
# Errors follow the exec-bridge protocol: a JSON line with errorType and errorMessage on stderr and
# a non-zero exit, so Lambda reports that errorType.
require "json"

begin
  event = JSON.parse(STDIN.gets_to_end)
  body = event.as_h? ? event["body"]? : nil
  STDOUT.print((body || JSON::Any.new(nil)).to_json)
rescue ex : JSON::ParseException
  STDERR.puts({errorType: "InvalidEvent", errorMessage: "the event is not JSON: #{ex.message}"}.to_json)
  exit 1
end
