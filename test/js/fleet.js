#!/usr/bin/env node
// A simulated fleet of field devices (vehicles) for Vigil, for demos, browser tests and benchmarks.
//
// usage: node test/js/fleet.js [options]         e.g. --devices 200 --churn 0.005 --seed 7
//   --url URL             broker: mqtt://, mqtts://, ws://, wss:// (default mqtt://127.0.0.1:1883)
//   --devices N           number of devices (default 50)
//   --prefix P            device ids P01..PN, zero-padded to the width of N (default car-)
//   --ids a,b,c           explicit device ids instead of --devices and --prefix
//   --hz F                positions per second per device (default 1)
//   --center LAT,LON      centre of the area (default 59.3293,18.0686: Stockholm)
//   --radius-km F         radius of the area (default 8)
//   --status-interval S   seconds between status messages, plus one at each connect (default 30)
//   --events-per-min F    random events per device per minute (default 0.5)
//   --churn P             probability per device per second of losing the connection abruptly
//                         (no DISCONNECT: the broker publishes the will), back after 10-40 s
//                         (default 0.01; 0 = off)
//   --seconds S           run time (default: until SIGINT or SIGTERM); at the end every online
//                         device publishes {"state":"offline"} and sends DISCONNECT
//   --seed N              seed of the PRNG (default random; always printed: replay a run with it)
//   --username U, --password P   MQTT credentials
//   --connect-rate N      connections opened per second at most (default 500)
//   --quiet               print only the seed, connected, error and summary lines
//   --help                this text
//
// Each device has one MQTT 3.1.1 connection: client id = device id, clean session, keepalive
// 30 s, will devices/{id}/status {"state":"offline"} (QoS 1, retained). It publishes
//   devices/{id}/location  QoS 0     {"lat","lon","heading","speed","ts"} (5/5/1/1 decimals, m/s)
//   devices/{id}/status    QoS 1, retained  {"state":"online","battery","signal","ts"}
//   devices/{id}/events    QoS 1     {"type","severity","text","ts"}
// and answers each message on devices/{id}/commands with a "command_ack" event.
// One 10 ms scheduler tick drives every device (devices are spread evenly over the period) and
// opens new connections; everything random comes from mulberry32, one stream per device.
//
// As a module: const fleet = require('./fleet').startFleet({ url, devices: 10, ... }) (the
// options above in camelCase, center as [lat, lon], log/warn functions); await fleet.ready
// (once every device has connected or failed once: { connected, failed, seconds }); the live
// fleet.counters (published messages, drops, ...); await fleet.stop() (resolves to counters).
'use strict';
const fs = require('fs');
const { setTimeout: sleep } = require('timers/promises');
const mqtt = require('mqtt');

const DEFAULTS = {
  url: 'mqtt://127.0.0.1:1883', devices: 50, prefix: 'car-', ids: null, hz: 1,
  center: [59.3293, 18.0686], radiusKm: 8, statusInterval: 30, eventsPerMin: 0.5, churn: 0.01,
  connectRate: 500, quiet: false,
  log: (line) => console.log(line), warn: (line) => console.error(line),
};
const TICK_MS = 10;
const M_PER_DEG = 111320;  // metres per degree of latitude (equirectangular approximation)
const BACKOFF_MAX_MS = 30000;
const EVENTS = [           // [type, severity, weight, text]
  ['door', 'info', 4, (d) => (d.rng() < 0.5 ? 'door opened' : 'door closed')],
  ['siren', 'info', 2, (d) => (d.rng() < 0.5 ? 'siren on' : 'siren off')],
  ['speeding', 'warning', 3, (d) => `speeding: ${(d.speed * 3.6).toFixed(0)} km/h`],
  ['panic', 'alarm', 1, () => 'panic button pressed'],
];
const EVENT_WEIGHT = EVENTS.reduce((sum, e) => sum + e[2], 0);
const OFFLINE = '{"state":"offline"}';
const QOS0 = { qos: 0, retain: false };
const QOS1 = { qos: 1, retain: false };
const QOS1_RETAIN = { qos: 1, retain: true };

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);
const wrap360 = (deg) => ((deg % 360) + 360) % 360;
const chance = (ratePerSec, dt) => 1 - Math.exp(-ratePerSec * dt);  // Poisson: P(>= 1 in dt)
const tally = (map, key) => map.set(key, (map.get(key) || 0) + 1);
const listTally = (map) => [...map].map(([key, n]) => `${key} x${n}`).join('; ');

function newDevice(id, index, o) {
  const rng = mulberry32(o.seed ^ Math.imul(index + 1, 0x9e3779b1));
  const r = o.radiusKm * 1000 * Math.sqrt(rng());
  const a = 2 * Math.PI * rng();
  const cruise = 5 + 20 * rng();
  return {
    id, rng, client: null, online: false, dropped: false, settled: false, everOnline: false,
    returnTimer: null, nextStatus: 0,
    tLocation: `devices/${id}/location`, tStatus: `devices/${id}/status`,
    tEvents: `devices/${id}/events`, tCommands: `devices/${id}/commands`,
    x: r * Math.sin(a), y: r * Math.cos(a),  // metres east and north of the centre
    heading: 360 * rng(), speed: cruise, cruise, stopLeft: 0,
    battery: 40 + 60 * rng(), drainPerSec: 1 / (120 + 240 * rng()), lowSent: false,
    signal: -110 + 60 * rng(),
    backoff: 1000 + (index % 1000),  // first retry after 1-2 s, doubling up to 30 s
  };
}

// A vehicle: cruises at 5-25 m/s, turns a little each step, takes a street corner now and then,
// stops for 10-60 s now and then, and steers back toward the centre beyond the radius.
function move(d, dt, radiusM) {
  const rng = d.rng;
  if (d.stopLeft > 0) {
    d.stopLeft -= dt;
    if (d.stopLeft <= 0) d.cruise = 5 + 20 * rng();
    return;
  }
  if (rng() < chance(1 / 240, dt)) {
    d.stopLeft = 10 + 50 * rng();
    d.speed = 0;
    return;
  }
  if (rng() < chance(1 / 60, dt)) d.cruise = 5 + 20 * rng();
  d.speed += (d.cruise - d.speed) * Math.min(1, 0.4 * dt) + (rng() - 0.5) * dt;
  d.speed = clamp(d.speed, 0, 25);
  if (Math.hypot(d.x, d.y) > radiusM) {
    const home = Math.atan2(-d.x, -d.y) * 180 / Math.PI;
    d.heading += clamp(wrap360(home - d.heading + 180) - 180, -30 * dt, 30 * dt);
  } else if (rng() < chance(1 / 40, dt)) {
    d.heading += rng() < 0.5 ? 90 : -90;
  } else {
    d.heading += (rng() - 0.5) * 8 * dt;
  }
  d.heading = wrap360(d.heading);
  const rad = d.heading * Math.PI / 180;
  d.x += d.speed * dt * Math.sin(rad);
  d.y += d.speed * dt * Math.cos(rad);
}

function startFleet(options = {}) {
  const o = { ...DEFAULTS };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) o[key] = value;
  if (o.seed === undefined) o.seed = Math.floor(Math.random() * 2 ** 31);
  const [lat0, lon0] = o.center;
  const mPerDegLon = M_PER_DEG * Math.cos(lat0 * Math.PI / 180);
  const radiusM = o.radiusKm * 1000;
  const dt = 1 / o.hz;
  const slots = Math.max(1, Math.round(1000 * dt / TICK_MS));
  const slotMs = 1000 * dt / slots;
  const pEvent = chance(o.eventsPerMin / 60, dt);
  const pChurn = 1 - Math.pow(1 - clamp(o.churn, 0, 1), dt);
  const counters = {
    locations: 0, statuses: 0, events: 0, commands: 0, drops: 0, reconnects: 0,
    connected: 0, failed: 0, lateSteps: 0, busySkips: 0,
  };
  const width = String(o.devices).length;
  const ids = o.ids || Array.from({ length: o.devices },
    (_, i) => o.prefix + String(i + 1).padStart(width, '0'));
  const devices = ids.map((id, i) => newDevice(id, i, o));
  const buckets = Array.from({ length: slots }, () => []);
  devices.forEach((d, i) => buckets[i % slots].push(d));
  const errors = new Map();       // connection error -> count since the last report
  const failReasons = new Map();  // first-attempt failures
  const t0 = Date.now();
  let started = 0;
  let nextSlot = 0;
  let lastErrorReport = t0;
  let stopping = false;
  let resolveReady;
  const ready = new Promise((resolve) => { resolveReady = resolve; });
  const say = (line) => { if (!o.quiet) o.log(line); };

  function settle(d, err) {  // the outcome of a device's first connection attempt
    if (d.settled) return;
    d.settled = true;
    if (err) tally(failReasons, err.message);
    counters[err ? 'failed' : 'connected']++;
    if (counters.connected + counters.failed < devices.length) return;
    const seconds = (Date.now() - t0) / 1000;
    o.log(`fleet: ${counters.connected} devices connected in ${seconds.toFixed(1)} s` +
      (counters.failed ? `; ${counters.failed} failed (${listTally(failReasons)}), retrying` : ''));
    resolveReady({ connected: counters.connected, failed: counters.failed, seconds });
  }

  function publishStatus(d, now) {
    d.nextStatus = now + o.statusInterval * 1000;
    d.client.publish(d.tStatus, `{"state":"online","battery":${Math.round(d.battery)},` +
      `"signal":${Math.round(d.signal)},"ts":${now}}`, QOS1_RETAIN);
    counters.statuses++;
  }

  function publishEvent(d, type, severity, text) {
    d.client.publish(d.tEvents, JSON.stringify({ type, severity, text, ts: Date.now() }), QOS1);
    counters.events++;
  }

  function step(d, now) {
    move(d, dt, radiusM);
    d.battery -= d.drainPerSec * dt;
    if (d.battery < 15) {
      d.battery = 100;  // back from the charger
      d.lowSent = false;
    }
    d.signal = clamp(d.signal + (d.rng() - 0.5) * 4 * Math.sqrt(dt), -110, -50);
    let event = null;
    if (d.rng() < pEvent) {
      let pick = d.rng() * EVENT_WEIGHT;
      const [type, severity, , text] = EVENTS.find((e) => (pick -= e[2]) < 0) || EVENTS[0];
      event = [type, severity, text(d)];
    }
    const drop = d.rng() < pChurn;
    if (!d.online) return;
    if (drop) {
      dropConnection(d);
      return;
    }
    if (d.client.stream.writableNeedDrain) {
      counters.busySkips++;  // the socket is still sending earlier positions
    } else {
      const lat = lat0 + d.y / M_PER_DEG;
      const lon = lon0 + d.x / mPerDegLon;
      d.client.publish(d.tLocation, `{"lat":${lat.toFixed(5)},"lon":${lon.toFixed(5)},` +
        `"heading":${d.heading.toFixed(1)},"speed":${d.speed.toFixed(1)},"ts":${Date.now()}}`,
      QOS0);
      counters.locations++;
    }
    if (now >= d.nextStatus) publishStatus(d, now);
    if (event) publishEvent(d, ...event);
    if (d.battery < 20 && !d.lowSent) {
      d.lowSent = true;
      publishEvent(d, 'low_battery', 'warning', `battery low: ${Math.round(d.battery)} %`);
    }
  }

  // The socket is destroyed without DISCONNECT, so the broker publishes the will. Automatic
  // reconnection is off for this loss: the device comes back after 10-40 s.
  function dropConnection(d) {
    const c = d.client;
    counters.drops++;
    d.dropped = true;
    d.online = false;
    c.options.reconnectPeriod = 0;
    c.stream.destroy();
    for (const id of Object.keys(c.outgoing)) c.removeOutgoingMessage(Number(id));  // lost
    d.returnTimer = setTimeout(() => {
      d.returnTimer = null;
      d.dropped = false;
      c.options.reconnectPeriod = d.backoff;
      c.reconnect();
    }, 10000 + 30000 * d.rng());
  }

  function connect(d) {
    const c = mqtt.connect(o.url, {
      clientId: d.id, clean: true, keepalive: 30, protocolVersion: 4, resubscribe: false,
      reconnectPeriod: d.backoff, reconnectOnConnackError: true, connectTimeout: 30000,
      username: o.username, password: o.password,
      will: { topic: d.tStatus, payload: OFFLINE, qos: 1, retain: true },
    });
    d.client = c;
    c.on('connect', () => {
      if (stopping) return;
      if (d.everOnline) {
        counters.reconnects++;
      } else if (d.settled) {  // failed at first, connected now
        counters.failed--;
        counters.connected++;
        say(`fleet: ${d.id} connected after all`);
      }
      settle(d, null);
      d.online = d.everOnline = true;
      c.options.reconnectPeriod = d.backoff;
      c.subscribe(d.tCommands, { qos: 1 }, (err) => {
        if (err && !d.dropped) o.warn(`fleet: ${d.id} cannot subscribe: ${err.message}`);
      });
      publishStatus(d, Date.now());
    });
    c.on('message', (topic, payload) => {
      const text = payload.toString();
      counters.commands++;
      say(`fleet: ${d.id} got command ${text}`);
      if (d.online) publishEvent(d, 'command_ack', 'info', `received: ${text.slice(0, 80)}`);
    });
    c.on('error', (err) => {
      tally(errors, err.message);
      if (!d.online) settle(d, err);
    });
    c.on('close', () => {
      const wasOnline = d.online;
      d.online = false;
      if (stopping || d.dropped) return;
      settle(d, new Error('connection closed before CONNACK'));
      if (!wasOnline) {  // another failed attempt: back off (used from the next attempt on)
        c.options.reconnectPeriod = Math.min(BACKOFF_MAX_MS, c.options.reconnectPeriod * 2);
      }
    });
  }

  function reportErrors(now) {
    lastErrorReport = now;
    if (errors.size) o.warn(`fleet: connection errors with ${o.url}: ${listTally(errors)}`);
    errors.clear();
  }

  function tick() {
    const now = Date.now();
    const elapsed = now - t0;
    const allowed = Math.min(devices.length, Math.floor(elapsed / 1000 * o.connectRate) + 1);
    while (started < allowed) connect(devices[started++]);
    const due = Math.floor(elapsed / slotMs);
    if (due - nextSlot > slots) {  // more than a period behind: skip the backlog
      counters.lateSteps += Math.round((due - nextSlot - slots) * devices.length / slots);
      nextSlot = due - slots;
    }
    for (; nextSlot < due; nextSlot++) {
      for (const d of buckets[nextSlot % slots]) step(d, now);
    }
    if (now - lastErrorReport >= 5000) reportErrors(now);
  }

  const timer = setInterval(tick, TICK_MS);
  o.log(`fleet: seed ${o.seed}`);
  tick();

  async function stop() {
    if (stopping) return counters;
    stopping = true;
    clearInterval(timer);
    reportErrors(Date.now());
    resolveReady({ connected: counters.connected, failed: counters.failed, seconds: null });
    const ends = devices.filter((d) => d.client).map((d) => new Promise((resolve) => {
      clearTimeout(d.returnTimer);
      if (d.online) d.client.publish(d.tStatus, OFFLINE, QOS1_RETAIN);  // as the will would
      d.client.end(!d.online, resolve);  // online: DISCONNECT once every QoS 1 is acknowledged
    }));
    await Promise.race([Promise.all(ends), sleep(5000, null, { ref: false })]);
    for (const d of devices) if (d.client && !d.client.disconnected) d.client.end(true);
    return counters;
  }

  return { seed: o.seed, ids, counters, ready, stop };
}

const number = (min, max = Infinity, integer = false) => (v, flag) => {
  const n = Number(v);
  if (v === '' || !(n >= min && n <= max) || (integer && !Number.isInteger(n))) {
    throw new Error(`${flag} needs ${integer ? 'an integer' : 'a number'} from ${min} to ${max}` +
      `, not ${v}`);
  }
  return n;
};
const latLon = (v, flag) => {
  const [lat, lon, extra] = v.split(',');
  if (extra !== undefined) throw new Error(`${flag} needs LAT,LON`);
  return [number(-90, 90)(lat, `${flag} latitude`), number(-180, 180)(lon, `${flag} longitude`)];
};
const FLAGS = {  // flag: [option, parse(value, flag)]
  '--url': ['url', String], '--devices': ['devices', number(1, 1e6, true)],
  '--prefix': ['prefix', String], '--ids': ['ids', (v) => v.split(',').filter(Boolean)],
  '--hz': ['hz', number(0.001)], '--radius-km': ['radiusKm', number(0.001)],
  '--center': ['center', latLon], '--churn': ['churn', number(0, 1)],
  '--status-interval': ['statusInterval', number(1)],
  '--events-per-min': ['eventsPerMin', number(0)], '--seconds': ['seconds', number(0.001)],
  '--seed': ['seed', number(0, 2 ** 32 - 1, true)],
  '--username': ['username', String], '--password': ['password', String],
  '--connect-rate': ['connectRate', number(1)],
};

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    if (flag === '--help' || flag === '-h') o.help = true;
    else if (flag === '--quiet') o.quiet = true;
    else if (!FLAGS[flag]) throw new Error(`unknown option ${argv[i]}`);
    else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`${flag} needs a value`);
      o[FLAGS[flag][0]] = FLAGS[flag][1](value, flag);
    }
  }
  if (o.ids?.length === 0) throw new Error('--ids needs at least one id');
  return o;
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`fleet: ${err.message} (--help lists the options)`);
    process.exit(2);
  }
  if (opts.help) {
    const lines = fs.readFileSync(__filename, 'utf8').split('\n');
    const end = lines.findIndex((line) => !line.startsWith('//') && !line.startsWith('#!'));
    console.log(lines.slice(1, end).map((line) => line.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  }
  const fleet = startFleet(opts);
  const t0 = Date.now();
  let exiting = false;
  const shutdown = async () => {
    if (exiting) process.exit(1);  // a second Ctrl-C: do not wait
    exiting = true;
    const c = await fleet.stop();
    const secs = (Date.now() - t0) / 1000;
    const cpu = process.cpuUsage();
    const cpuSecs = (cpu.user + cpu.system) / 1e6;
    console.log(`fleet: stopped after ${secs.toFixed(1)} s: published ${c.locations} locations, ` +
      `${c.statuses} statuses, ${c.events} events; ${c.commands} commands, ${c.drops} drops, ` +
      `${c.reconnects} reconnects; ${c.connected} of ${fleet.ids.length} devices connected; ` +
      `${c.lateSteps} late and ${c.busySkips} busy-skipped positions; ` +
      `CPU ${cpuSecs.toFixed(1)} s (${(100 * cpuSecs / secs).toFixed(0)} % of a core)`);
    process.exit(c.connected > 0 ? 0 : 1);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  if (opts.seconds) setTimeout(shutdown, opts.seconds * 1000);
}

if (require.main === module) main();

module.exports = { startFleet };
