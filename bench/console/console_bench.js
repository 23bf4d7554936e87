#!/usr/bin/env node
// The console in headless Chromium under a national-size fleet: starts vigil (its own data
// directory and ports), a simulated fleet (test/js/fleet.js, its own process), and Debian's
// chromium on the console, then for --minutes measures:
//   - device publish -> marker drawn: the page's own lag samples (draw time - the position's
//     `ts`, set by the device when it published; one clock, one machine);
//   - frame intervals: time between requestAnimationFrame callbacks (16.7 ms at 60 Hz; longer
//     when the main thread was busy), and long tasks (> 50 ms);
//   - page memory: JS heap after a forced garbage collection, DOM nodes and event listeners,
//     every 30 s, while the page's WebSocket is closed --reconnects times (evenly spread) and
//     the page reconnects and resynchronises each time (time to live again);
//   - CPU of vigil, the fleet and chromium (all its processes), from /proc.
// usage: node bench/console/console_bench.js --vigil build/release/src/vigil [--devices 10000]
//        [--hz 1] [--minutes 10] [--reconnects 100] [--seed N] [--out results.json]
//        [--profile FILE.cpuprofile]: the page's main thread profiled for 10 s after the warm-up
//        (open it in Chromium's DevTools); the functions with the most self time are printed
//        [--trace FILE.json]: a 5 s trace of the page (DevTools timeline); the main thread's
//        busiest kinds of work are printed
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');

const requireTests = createRequire(path.join(__dirname, '../../test/js/package.json'));
const { chromium } = requireTests('playwright-core');

function options() {
  const o = { vigil: 'build/release/src/vigil', devices: 10000, hz: 1, minutes: 10, reconnects: 100, seed: Math.floor(Math.random() * 1e6), out: '', profile: '', trace: '' };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const key = a[i].replace(/^--/, '');
    if (!(key in o)) throw new Error(`unknown option ${a[i]}`);
    o[key] = typeof o[key] === 'number' ? Number(a[i + 1]) : a[i + 1];
  }
  return o;
}

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const children = []; // stopped if the bench fails
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (v, q) => (v.length === 0 ? null : [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * q))]);
const fmt = (x, d = 1) => (x === null ? '-' : x.toFixed(d));

/** CPU seconds a process used itself (not its children). */
function ownSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // clock ticks of 10 ms
  } catch {
    return 0; // gone
  }
}

function descendants(pid) {
  try {
    const kids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString().trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.flatMap((k) => [k, ...descendants(k)]);
  } catch {
    return []; // none
  }
}

/** CPU seconds of a process and its descendants. */
const cpuSeconds = (pid) => [pid, ...descendants(pid)].reduce((sum, p) => sum + ownSeconds(p), 0);

/** CPU seconds of the chromium processes this bench started (browser, renderer, GPU, ...). */
function chromiumSeconds() {
  const isChromium = (p) => {
    try {
      return fs.readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('chrom');
    } catch {
      return false;
    }
  };
  return descendants(process.pid).filter(isChromium).reduce((sum, p) => sum + ownSeconds(p), 0);
}

/** 10 s of the page's JavaScript, sampled; prints where the main thread spent its time. */
async function profile(cdp, file) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  await sleep(10000);
  const { profile: p } = await cdp.send('Profiler.stop');
  fs.writeFileSync(file, JSON.stringify(p));
  const self = new Map();
  const dt = new Map(p.nodes.map((n) => [n.id, 0]));
  p.samples.forEach((id, i) => dt.set(id, dt.get(id) + (p.timeDeltas[i] || 0)));
  for (const n of p.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) || 0) + dt.get(n.id));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`  profile (${file}), self time of 10 s:`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`    ${(us / 1000).toFixed(0).padStart(6)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
}

/** 5 s of the page's timeline; prints the main thread's work by kind (self time). */
async function trace(browser, page, file) {
  await browser.startTracing(page, { path: file, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute'] });
  await sleep(5000);
  const events = JSON.parse(await browser.stopTracing()).traceEvents;
  const main = events.find((e) => e.name === 'thread_name' && e.args.name === 'CrRendererMain');
  const own = events.filter((e) => e.ph === 'X' && main && e.pid === main.pid && e.tid === main.tid).sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  // Self time: each event's duration less that of the events nested directly in it.
  const self = new Map();
  const stack = [];
  for (const e of own) {
    while (stack.length && stack.at(-1).ts + stack.at(-1).dur <= e.ts) stack.pop();
    if (stack.length) self.set(stack.at(-1).name, (self.get(stack.at(-1).name) || 0) - e.dur);
    self.set(e.name, (self.get(e.name) || 0) + e.dur);
    stack.push(e);
  }
  console.log(`  trace (${file}), main thread self time in 5 s:`);
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`    ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
}

async function main() {
  const o = options();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-bench-'));
  const mqttPort = await freePort();
  const httpPort = await freePort();
  fs.writeFileSync(path.join(dir, 'vigil.toml'), `data_dir = "${dir}/var"\nsys_interval = "off"\n[[listener]]\nbind = "127.0.0.1"\nport = ${mqttPort}\n` +
    `[[http.listener]]\nbind = "127.0.0.1"\nport = ${httpPort}\n`);
  const vigil = spawn(o.vigil, ['--config', path.join(dir, 'vigil.toml')], { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'vigil.log'), 'w')] });
  children.push(vigil);
  for (let i = 0; ; i++) {
    const up = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false);
    if (up) break;
    if (i > 200) throw new Error(`vigil did not start: see ${dir}/vigil.log`);
    await sleep(50);
  }
  console.log(`console-bench: seed ${o.seed}, ${o.devices} devices at ${o.hz} Hz, ${o.minutes} min, ${o.reconnects} reconnects; vigil log ${dir}/vigil.log`);
  const fleet = spawn('node', [path.join(__dirname, '../../test/js/fleet.js'), '--url', `mqtt://127.0.0.1:${mqttPort}`, '--devices', String(o.devices),
    '--hz', String(o.hz), '--churn', '0.001', '--events-per-min', '0.2', '--connect-rate', '1000', '--seed', String(o.seed), '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(fleet);
  await new Promise((resolve) => fleet.stdout.on('data', (d) => { process.stdout.write(`  ${d}`); if (/connected/.test(String(d))) resolve(); }));

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  // Instruments the page from outside (the DevTools protocol bypasses its CSP): frame
  // intervals and long tasks; the connection's worker is reached through its global.
  let worker = null;
  page.on('worker', (w) => { if (w.url().endsWith('/push-worker.js')) worker = w; });
  await page.addInitScript(() => {
    window.__benchFrames = [];
    window.__benchLong = 0;
    let last = 0;
    const tick = (t) => {
      if (last) window.__benchFrames.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    new PerformanceObserver((l) => { window.__benchLong += l.getEntries().length; }).observe({ type: 'longtask', buffered: false });
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`http://127.0.0.1:${httpPort}/`);
  await page.waitForFunction(() => window.vigilConsole && window.vigilConsole.state() === 'live', null, { timeout: 60000 }).catch(async () => {
    throw new Error(`the console did not go live: ${await page.evaluate(() => document.getElementById('conn-text').textContent)}`);
  });
  const liveAt = Date.now();
  console.log(`  console live; warming up 30 s`);
  await sleep(30000);
  if (o.profile) await profile(cdp, o.profile);
  if (o.trace) await trace(browser, page, o.trace);
  await page.evaluate(() => { window.__benchFrames = []; window.__benchLong = 0; });
  await worker.evaluate(() => {
    const client = self.pushClient;
    const onFrame = client.onFrame.bind(client);
    self.benchFrames = 0;
    self.benchBytes = 0;
    client.onFrame = (data) => {
      self.benchFrames += 1;
      self.benchBytes += data.length;
      onFrame(data);
    };
    // Publish -> received by the page's worker: the part of the lag before the page.
    const deliver = client.deliver.bind(client);
    self.benchArrival = [];
    client.deliver = (m, live) => {
      if (live && m.payload && m.payload.ts) self.benchArrival.push(Date.now() - m.payload.ts);
      deliver(m, live);
    };
  });
  const measuredFrom = Date.now();
  let lagFrom = Date.now();

  const memory = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const m = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value]));
    return { t: (Date.now() - liveAt) / 1000, heapMiB: m.JSHeapUsedSize / 2 ** 20, nodes: m.Nodes, listeners: m.JSEventListeners };
  };
  const samples = { arrival: [], lag: [], frames: [], long: 0, memory: [await memory()], reconnectMs: [], devicesShown: [] };
  const cpu0 = { vigil: cpuSeconds(vigil.pid), fleet: cpuSeconds(fleet.pid), chromium: chromiumSeconds(), at: Date.now() };
  const end = Date.now() + o.minutes * 60000;
  const every = (o.minutes * 60000) / Math.max(1, o.reconnects);
  let nextReconnect = Date.now() + every / 2;
  let nextMemory = Date.now() + 30000;
  let nextCollect = Date.now() + 2000;
  while (Date.now() < end) {
    if (Date.now() >= nextCollect) {
      const got = await page.evaluate((from) => {
        const r = { lag: window.vigilConsole.lag().filter(([at]) => at > from), frames: window.__benchFrames, long: window.__benchLong,
                    shown: window.vigilConsole.counts().total };
        window.__benchFrames = [];
        window.__benchLong = 0;
        return r;
      }, lagFrom);
      samples.arrival.push(...(await worker.evaluate(() => self.benchArrival.splice(0))));
      for (const [at, ms] of got.lag) {
        samples.lag.push(ms);
        lagFrom = Math.max(lagFrom, at);
      }
      samples.frames.push(...got.frames);
      samples.long += got.long;
      samples.devicesShown.push(got.shown);
      nextCollect += 2000;
    }
    if (Date.now() >= nextMemory) {
      samples.memory.push(await memory());
      nextMemory += 30000;
    }
    if (Date.now() >= nextReconnect && samples.reconnectMs.length < o.reconnects) {
      const t0 = Date.now();
      await worker.evaluate(() => self.pushClient.ws.close());
      await page.waitForFunction(() => window.vigilConsole.state() !== 'live', null, { timeout: 10000, polling: 10 });
      await page.waitForFunction(() => window.vigilConsole.state() === 'live', null, { timeout: 60000, polling: 10 });
      samples.reconnectMs.push(Date.now() - t0);
      nextReconnect += every;
    }
    await sleep(50);
  }
  const ws = await worker.evaluate(() => [self.benchFrames, self.benchBytes]);
  const wsSeconds = (Date.now() - measuredFrom) / 1000;
  samples.memory.push(await memory());
  const seconds = (Date.now() - cpu0.at) / 1000;
  const cpu = { vigil: (cpuSeconds(vigil.pid) - cpu0.vigil) / seconds, fleet: (cpuSeconds(fleet.pid) - cpu0.fleet) / seconds,
    chromium: (chromiumSeconds() - cpu0.chromium) / seconds };
  await browser.close();
  fleet.kill('SIGTERM');
  await new Promise((r) => fleet.on('exit', r));
  vigil.kill('SIGTERM');
  await new Promise((r) => vigil.on('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });

  // Memory: the first sample after the warm-up against the largest of the last three.
  const first = samples.memory[0].heapMiB;
  const last = Math.max(...samples.memory.slice(-3).map((m) => m.heapMiB));
  const result = {
    seed: o.seed, devices: o.devices, hz: o.hz, minutes: o.minutes, chromium: browser.version(),
    arrival_ms: { p50: quantile(samples.arrival, 0.5), p95: quantile(samples.arrival, 0.95), p99: quantile(samples.arrival, 0.99) },
    lag_ms: { samples: samples.lag.length, p50: quantile(samples.lag, 0.5), p95: quantile(samples.lag, 0.95), p99: quantile(samples.lag, 0.99) },
    frame_ms: { frames: samples.frames.length, p50: quantile(samples.frames, 0.5), p95: quantile(samples.frames, 0.95), p99: quantile(samples.frames, 0.99),
                fps: samples.frames.length / (samples.frames.reduce((a, b) => a + b, 0) / 1000 || 1), long_tasks: samples.long },
    reconnects: { done: samples.reconnectMs.length, p50_ms: quantile(samples.reconnectMs, 0.5), p99_ms: quantile(samples.reconnectMs, 0.99) },
    ws: { frames_per_s: ws[0] / wsSeconds, kib_per_s: ws[1] / 1024 / wsSeconds },
    memory: samples.memory, heap_growth: last / first - 1, devices_shown_min: Math.min(...samples.devicesShown), cpu_cores: cpu,
  };
  console.log(`  publish -> marker drawn: p50 ${fmt(result.lag_ms.p50)} ms, p95 ${fmt(result.lag_ms.p95)} ms, p99 ${fmt(result.lag_ms.p99)} ms (${result.lag_ms.samples} samples; target p99 <= 250)`);
  console.log(`    of which publish -> in the page's worker: p50 ${fmt(result.arrival_ms.p50)} ms, p95 ${fmt(result.arrival_ms.p95)} ms, p99 ${fmt(result.arrival_ms.p99)} ms`);
  console.log(`  frame interval: p50 ${fmt(result.frame_ms.p50)} ms, p95 ${fmt(result.frame_ms.p95)} ms, p99 ${fmt(result.frame_ms.p99)} ms, ${fmt(result.frame_ms.fps)} fps, ${result.frame_ms.long_tasks} long tasks (target p95 <= 16.7)`);
  console.log(`  heap after GC: ${fmt(first)} MiB -> ${fmt(last)} MiB (${fmt(100 * result.heap_growth)} %; target within 10 %); nodes ${samples.memory[0].nodes} -> ${samples.memory.at(-1).nodes}, listeners ${samples.memory[0].listeners} -> ${samples.memory.at(-1).listeners}`);
  console.log(`  reconnects: ${result.reconnects.done}, back live p50 ${result.reconnects.p50_ms} ms, p99 ${result.reconnects.p99_ms} ms; devices shown (min) ${result.devices_shown_min}`);
  console.log(`  /ws into the page: ${fmt(result.ws.frames_per_s, 0)} frames/s, ${fmt(result.ws.kib_per_s, 0)} KiB/s`);
  console.log(`  CPU cores: vigil ${fmt(cpu.vigil, 2)}, fleet ${fmt(cpu.fleet, 2)}, chromium ${fmt(cpu.chromium, 2)} (of ${os.cpus().length})`);
  if (o.out) fs.writeFileSync(o.out, JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(`console-bench: ${e.stack || e}`);
  for (const child of children) child.kill('SIGTERM');
  process.exitCode = 1;
});
