// Debian's Chromium, headless, driven by Playwright (playwright-core from npm) for the console
// tests: options as JSON on the command line ({viewport, screenshots}), then one command per
// line on stdin, each answered on stdout with {"event":"done","id":..,"value":..} or
// {"event":"failed","id":..,"error":..}. The page's console errors, failed requests and
// uncaught exceptions (a Content-Security-Policy violation is one) come as events too.
//
// Commands: goto {url}; eval {js}: the value of an expression; wait {js, timeout}: until the
// expression is truthy (polled every 25 ms), its value; click {selector}; fill {selector, value}; press {key};
// screenshot {name}: a PNG in options.screenshots; offline {on}: cut the page's network;
// worker {url, js}: the value of an expression in the page's worker whose URL ends with url.
'use strict';
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const opt = JSON.parse(process.argv[2] || '{}');
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

/** Polls an expression until it is truthy (waitForFunction would build a function from a
 *  string, which the console's Content-Security-Policy forbids; evaluate goes through the
 *  DevTools protocol). */
async function waitFor(page, js, timeout) {
  const until = Date.now() + timeout;
  let last;
  for (;;) {
    last = await page.evaluate(js);
    if (last) return last;
    if (Date.now() > until) throw new Error(`not true within ${timeout} ms (last value ${JSON.stringify(last)}): ${js}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: opt.chromium || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: opt.viewport || { width: 1366, height: 768 } });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') say({ event: 'console', type: m.type(), text: m.text() }); });
  page.on('pageerror', (e) => say({ event: 'pageerror', text: String(e.message || e) }));
  page.on('requestfailed', (r) => say({ event: 'requestfailed', url: r.url(), text: r.failure() && r.failure().errorText }));
  const run = {
    goto: (c) => page.goto(c.url).then((r) => r && r.status()),
    eval: (c) => page.evaluate(c.js),
    wait: (c) => waitFor(page, c.js, c.timeout || 10000),
    click: (c) => page.click(c.selector, { timeout: c.timeout || 5000 }),
    fill: (c) => page.fill(c.selector, c.value, { timeout: c.timeout || 5000 }),
    press: (c) => page.keyboard.press(c.key),
    screenshot: (c) => page.screenshot({ path: path.join(opt.screenshots, `${c.name}.png`) }).then(() => path.join(opt.screenshots, `${c.name}.png`)),
    offline: (c) => context.setOffline(Boolean(c.on)),
    worker: (c) => {
      const w = page.workers().find((x) => x.url().endsWith(c.url));
      if (!w) throw new Error(`no worker ${c.url} (workers: ${page.workers().map((x) => x.url()).join(', ')})`);
      return w.evaluate(c.js);
    },
  };
  say({ event: 'ready', version: browser.version() });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const c = JSON.parse(line);
    try {
      const value = await run[c.cmd](c);
      say({ event: 'done', id: c.id, value: value === undefined ? null : value });
    } catch (e) {
      say({ event: 'failed', id: c.id, error: String(e.message || e).split('\n')[0] });
    }
  }
  await browser.close();
}

main().catch((e) => {
  say({ event: 'fatal', error: String(e.stack || e) });
  process.exit(1);
});
