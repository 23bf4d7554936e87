// The console's start: sign in when the server needs a token, then connect, draw and keep
// the views current. `window.vigilConsole` exposes counts and timings for diagnostics.

import { Connection } from './connection.js';
import { DeviceStore } from './store.js';
import { LiveMap } from './map.js';
import { DeviceList } from './list.js';
import { EventFeed } from './feed.js';
import { DevicePanel } from './panel.js';

const TOKEN_KEY = 'vigil.token';

function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
}

/** Whether the server takes this tab's token (or needs none): /healthz tells a caller it
 *  accepts more than the verdict. */
async function access() {
  const health = await (await api('/healthz')).json();
  if ('store' in health) return { ok: true };
  return { ok: false, why: sessionStorage.getItem(TOKEN_KEY) ? 'the server refused this token' : '' };
}

async function signIn() {
  for (;;) {
    const verdict = await access();
    if (verdict.ok) return;
    sessionStorage.removeItem(TOKEN_KEY);
    const dialog = document.getElementById('signin');
    document.getElementById('signin-error').textContent = verdict.why;
    dialog.showModal();
    await new Promise((resolve) => {
      document.getElementById('signin-form').addEventListener('submit', resolve, { once: true });
    });
    sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
    document.getElementById('token').value = '';
  }
}

async function start() {
  const config = await (await fetch('/console/config.json')).json();
  await signIn();
  const token = sessionStorage.getItem(TOKEN_KEY);
  const signout = document.getElementById('signout');
  signout.hidden = !token;
  signout.addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });

  const store = new DeviceStore(config);
  let panel = null;
  let list = null;
  const select = (id, focus = false) => {
    map.select(id);
    list.select(id);
    panel.open(id);
    if (focus) map.focus(id);
  };
  const map = new LiveMap(document.getElementById('map'), config, store, (id) => select(id));
  list = new DeviceList(store, select);
  const feed = new EventFeed(store, (id) => select(id, true));
  const conn = document.getElementById('conn');
  const connText = document.getElementById('conn-text');
  const push = new Connection({
    token,
    history: config.history,
    handlers: {
      message: (m, live) => store.apply(m, live),
      state: (name, detail) => {
        conn.dataset.state = name;
        connText.textContent = detail ? `${name}: ${detail}` : name;
      },
      error: (text) => console.warn(`vigil: ${text}`),
      synced: () => map.fitOnce(),
    },
  });
  panel = new DevicePanel({ store, map, push, api, onClose: () => { map.select(null); list.select(null); } });

  if (config.history) {
    // The last hour's events, so the feed is not empty on a quiet night.
    const res = await api(`/api/v1/history?topic=${encodeURIComponent('devices/+/events')}&from=${Date.now() - 3600000}&order=desc&limit=200`);
    if (res.ok) for (const r of (await res.json()).records) store.apply(r);
    store.newEvents = [];
    feed.rebuild();
  }
  push.start();

  let lastList = 0;
  let lastFeed = 0;
  let lastSecond = 0;
  let received = 0;
  const loop = () => {
    const now = Date.now();
    // New positions are drawn at most every 50 ms (devices report about once a second):
    // enough for the eye, and it leaves most frames free. Panning and zooming draw at once.
    map.frame(now, 50);
    // The feed and the list change the page's layout: a few times a second is enough.
    if (store.newEvents.length > 0 && now - lastFeed >= 250) {
      feed.update();
      lastFeed = now;
    }
    if (now - lastList > 500 && store.listDirty) {
      list.refresh(false);
      lastList = now;
    }
    if (now - lastSecond >= 1000) {
      const c = store.counts();
      document.getElementById('count-online').textContent = c.online;
      document.getElementById('count-offline').textContent = c.offline;
      document.getElementById('count-total').textContent = c.total;
      document.getElementById('rate').textContent = Math.round(((store.received - received) * 1000) / (now - lastSecond || 1));
      const lag = store.lagP99();
      document.getElementById('lag').textContent = lag === null ? '-' : `${Math.round(lag)} ms`;
      received = store.received;
      lastSecond = now;
      list.render(); // the ages
      panel.render();
    }
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);

  window.vigilConsole = {
    state: () => push.state,
    counts: () => store.counts(),
    device: (id) => {
      const d = store.devices.get(id);
      return d ? { ...d } : null;
    },
    placed: () => map.placed,
    zoom: () => map.map.getZoom(),
    outlines: () => map.outlines,
    lag: () => store.lagSamples.slice(), // [drawn at, ms from the device's ts], the last 10 s
  };
}

start().catch((err) => {
  document.getElementById('conn').dataset.state = 'reconnecting';
  document.getElementById('conn-text').textContent = `failed to start: ${err.message}`;
  console.error(err);
});
