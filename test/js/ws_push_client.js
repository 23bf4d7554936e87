// The npm `ws` WebSocket client on /ws (JSON push protocol v1), driven by the integration
// tests: options as JSON on the command line, every object the server sends on stdout.
//
// Options: url, protocols [..], origin, requests [{...}] sent once open, expect (objects with
// "op":"message" to receive before closing).
'use strict';
const WebSocket = require('ws');

const opt = JSON.parse(process.argv[2]);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const ws = new WebSocket(opt.url, opt.protocols || [], opt.origin ? { origin: opt.origin } : {});
let messages = 0;

ws.on('open', () => {
  say({ event: 'open', protocol: ws.protocol });
  for (const r of opt.requests || []) ws.send(JSON.stringify(r));
});
ws.on('message', (data, isBinary) => {
  for (const line of data.toString().split('\n')) {
    if (!line) continue;
    const o = JSON.parse(line);
    say({ event: 'frame', binary: isBinary, data: o });
    if (o.op === 'message') {
      messages += 1;
      if (messages === opt.expect) ws.close(1000);
    }
  }
});
ws.on('unexpected-response', (req, res) => {
  say({ event: 'refused', status: res.statusCode });
  process.exit(0);
});
ws.on('close', (code) => {
  say({ event: 'close', code });
  process.exit(0);
});
ws.on('error', (e) => say({ event: 'error', message: String(e.message || e) }));
