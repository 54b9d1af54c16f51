'use strict';
// An osls (Serverless Framework v3) plugin: `osls package` and `osls deploy` never ship a
// dist/exec-bridge.zip older than what it is built from; they stop, saying what to run.
const fs = require('fs');
const path = require('path');

const INPUTS = ['handler.py', 'bridge', 'src', 'prebuilt', 'requirements.txt', 'scripts/package.py'];

function newest(root, entry) {
  const full = path.join(root, entry);
  if (!fs.existsSync(full)) return null;
  const stat = fs.statSync(full);
  if (!stat.isDirectory()) return { file: entry, mtime: stat.mtimeMs };
  let best = null;
  for (const name of fs.readdirSync(full)) {
    if (name === '__pycache__' || name === 'target') continue;
    const found = newest(root, path.join(entry, name));
    if (found && (!best || found.mtime > best.mtime)) best = found;
  }
  return best;
}

class FreshArtifact {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:initialize': () => this.check(),
      'before:deploy:deploy': () => this.check(),
    };
  }

  check() {
    const root = this.serverless.serviceDir || this.serverless.config.servicePath;
    const artifact = this.serverless.service.package.artifact;
    const zip = path.join(root, artifact);
    if (!fs.existsSync(zip)) {
      throw new this.serverless.classes.Error(`${artifact} does not exist: run ./build.sh package first`);
    }
    const built = fs.statSync(zip).mtimeMs;
    for (const entry of INPUTS) {
      const found = newest(root, entry);
      if (found && found.mtime > built) {
        throw new this.serverless.classes.Error(
          `${artifact} is older than ${found.file}: run ./build.sh package, then this command again`);
      }
    }
  }
}

module.exports = FreshArtifact;
