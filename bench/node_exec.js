// The original article's trick, for comparison: the event through a shell, as one argument.
//   node node_exec.js BINARY EVENT_FILE N   prints "median_us p99_us", or "FAIL <reason>"
const { exec } = require("child_process");
const fs = require("fs");
const [binary, eventFile, n] = process.argv.slice(2);
const event = JSON.parse(fs.readFileSync(eventFile, "utf8"));
const rounds = Number(n), warm = Math.floor(rounds / 10) + 1, times = [];

function once() {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    exec("echo '" + JSON.stringify(event) + "' | " + binary, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(error);
      try {
        JSON.parse(stdout);
      } catch (parseError) {
        return reject(parseError);
      }
      resolve(Number(process.hrtime.bigint() - start) / 1000);
    });
  });
}

(async () => {
  try {
    for (let i = 0; i < warm + rounds; i++) {
      const t = await once();
      if (i >= warm) times.push(t);
    }
  } catch (error) {
    console.log("FAIL " + (error.code || error.name + ": " + error.message.split("\n")[0]));
    return;
  }
  times.sort((a, b) => a - b);
  console.log(times[Math.floor(rounds / 2)].toFixed(2) + " " + times[Math.min(rounds - 1, Math.floor(rounds * 0.99))].toFixed(2));
})();
