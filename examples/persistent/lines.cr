# Persistent mode, BRIDGE_FRAMING=lines, in Crystal: one line in (the event), one line out.
# Answers {"echo": <event>} and stays alive across invocations.
# Build: crystal build --static --release examples/persistent/lines.cr -o lines
require "json"

while line = STDIN.gets
  event = JSON.parse(line)
  STDERR.puts "handling #{line.bytesize} bytes"
  STDOUT.puts({echo: event}.to_json)
  STDOUT.flush
end
