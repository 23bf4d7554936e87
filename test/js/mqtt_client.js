// MQTT.js (npm `mqtt`) driven by the integration tests: one JSON object of options on the
// command line, one JSON object per event on stdout.
//
// Options: url, clientId, username, password, clean, ca (file), will {topic, payload, qos,
// retain}, subscribe [{filter, qos}], publish [{topic, payload | size, qos, retain}],
// expect (messages to receive before finishing), finish "end" (DISCONNECT) | "drop" (the socket
// just closes) | "stay" (wait for stdin to close).
'use strict';
const fs = require('fs');
const mqtt = require('mqtt');

const opt = JSON.parse(process.argv[2]);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const connectOpts = {
  clientId: opt.clientId,
  clean: opt.clean !== false,
  protocolVersion: 4,
  reconnectPeriod: 0,
  connectTimeout: 10000,
  keepalive: 30,
};
if (opt.username !== undefined) connectOpts.username = opt.username;
if (opt.password !== undefined) connectOpts.password = opt.password;
if (opt.ca) connectOpts.ca = fs.readFileSync(opt.ca);
if (opt.will) connectOpts.will = { ...opt.will, payload: Buffer.from(opt.will.payload) };

const client = mqtt.connect(opt.url, connectOpts);
let received = 0;
const expect = opt.expect || 0;

function payloadOf(p) {
  return p.size !== undefined ? Buffer.alloc(p.size, 'x') : Buffer.from(p.payload);
}

function finish() {
  if (opt.finish === 'drop') {
    client.stream.destroy();  // no DISCONNECT: the broker must publish the will
    say({ event: 'done' });
    setTimeout(() => process.exit(0), 50);
  } else if (opt.finish === 'stay') {
    say({ event: 'done' });
    process.stdin.resume();
    process.stdin.on('end', () => client.end(false, () => process.exit(0)));
  } else {
    client.end(false, () => {
      say({ event: 'done' });
      process.exit(0);
    });
  }
}

async function run() {
  for (const s of opt.subscribe || []) {
    const granted = await client.subscribeAsync(s.filter, { qos: s.qos || 0 });
    say({ event: 'subscribed', filter: s.filter, granted: granted.map((g) => g.qos) });
  }
  for (const p of opt.publish || []) {
    await client.publishAsync(p.topic, payloadOf(p), { qos: p.qos || 0, retain: !!p.retain });
    say({ event: 'published', topic: p.topic, qos: p.qos || 0 });
  }
  if (received >= expect) finish();
}

client.on('connect', (ack) => {
  say({ event: 'connect', sessionPresent: ack.sessionPresent });
  run().catch((e) => {
    say({ event: 'error', message: String(e.message || e), code: e.code });
    process.exit(1);
  });
});
client.on('message', (topic, payload, packet) => {
  received += 1;
  say({
    event: 'message', topic, qos: packet.qos, retain: packet.retain, len: payload.length,
    payload: payload.length <= 1024 ? payload.toString() : undefined,
  });
  if (expect > 0 && received === expect) finish();
});
client.on('error', (e) => {
  say({ event: 'error', message: String(e.message || e), code: e.code });
  process.exit(1);
});
client.on('close', () => say({ event: 'close' }));
