// The /ws connection (JSON push protocol v1, docs/push-protocol.md), run in a worker
// (push-worker.js): subscribes, checks the frames' sequence numbers, notices a dead socket,
// reconnects with backoff and comes back correct: a fresh snapshot of positions and statuses,
// and the events it missed replayed from the history (`since`) when the server keeps history.

const STATE_FILTERS = ['devices/+/location', 'devices/+/status'];
const EVENT_FILTERS = ['devices/+/events'];
const PING_EVERY_MS = 15000;
const SILENCE_LIMIT_MS = 25000;

export class PushClient {
  /**
   * handlers: message(m, live), state(name, detail), error(text), synced()
   * history: whether the server keeps history (resubscribe with `since`)
   */
  constructor({ token, history, handlers }) {
    this.token = token;
    this.history = history;
    this.h = handlers;
    this.ws = null;
    this.state = 'connecting';
    this.lastSeq = 0;
    this.lastTime = 0; // the newest message time seen (the server's clock): where a replay starts
    this.pending = new Map(); // publish id -> {resolve, reject, timer}
    this.nextId = 1;
    this.attempt = 0;
    this.everLive = false;
    this.waiting = new Set(); // subscribe ids whose snapshot/replay has not ended
    this.lastFrameAt = 0;
    this.stopped = false;
    this.pingTimer = setInterval(() => this.keepAlive(), 5000);
  }

  start() { this.connect(); }

  setState(name, detail = '') {
    this.state = name;
    this.h.state(name, detail);
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const protocols = this.token ? ['vigil.v1', `token.${this.token}`] : ['vigil.v1'];
    this.setState(this.everLive ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(`${scheme}//${location.host}/ws`, protocols);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastSeq = 0;
      this.lastFrameAt = Date.now();
      this.subscribe();
    };
    ws.onmessage = (e) => this.onFrame(e.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new Error('connection lost before the server answered')); }
      this.pending.clear();
      if (this.stopped) return;
      const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt = Math.min(this.attempt + 1, 5);
      this.setState('reconnecting', e.code === 1008 ? 'the server refused this token' : '');
      setTimeout(() => this.connect(), delay);
    };
  }

  /** (Re)subscribes: state filters get a snapshot; events a replay since the newest seen. */
  subscribe() {
    if (this.everLive) this.setState('resynchronising');
    this.waiting = new Set(['state', 'events']);
    this.send({ op: 'subscribe', id: 'state', filters: STATE_FILTERS });
    const events = { op: 'subscribe', id: 'events', filters: EVENT_FILTERS };
    if (this.history && this.lastTime > 0) events.since = this.lastTime;
    this.send(events);
  }

  /** After a gap in `seq`: drop the subscriptions and take them again. */
  resynchronise(why) {
    this.h.error(`resynchronising: ${why}`);
    this.send({ op: 'unsubscribe', id: 'u-state', filters: STATE_FILTERS });
    this.send({ op: 'unsubscribe', id: 'u-events', filters: EVENT_FILTERS });
    this.subscribe();
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  keepAlive(now = false) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const silent = Date.now() - this.lastFrameAt;
    if (silent > SILENCE_LIMIT_MS) {
      // A laptop that slept, a network that went away without a FIN: start over.
      this.ws.close();
      this.ws.onclose({ code: 4000 });
      return;
    }
    if (now || silent > PING_EVERY_MS) this.send({ op: 'ping', id: 'ping' });
  }

  onFrame(data) {
    this.lastFrameAt = Date.now();
    for (const line of data.split('\n')) {
      if (line) this.onObject(JSON.parse(line));
    }
  }

  onObject(m) {
    switch (m.op) {
      case 'message':
        if (this.lastSeq !== 0 && m.seq !== this.lastSeq + 1) {
          const expected = this.lastSeq + 1;
          this.lastSeq = m.seq;
          this.resynchronise(`message ${expected} expected, ${m.seq} came`);
        }
        this.lastSeq = m.seq;
        this.deliver(m, true);
        break;
      case 'snapshot':
      case 'replay':
        for (const one of m.messages) this.deliver(one, false);
        if (m.last) this.ended(m.id);
        break;
      case 'published':
      case 'error': {
        const p = this.pending.get(m.id);
        if (p) {
          clearTimeout(p.timer);
          this.pending.delete(m.id);
          if (m.op === 'published') p.resolve(); else p.reject(new Error(m.error));
        } else if (m.op === 'error') {
          this.h.error(m.error);
          if (this.waiting.delete(m.id)) this.ended(null);
        }
        break;
      }
      default:
        break; // subscribed, unsubscribed, pong
    }
  }

  ended(id) {
    if (id !== null) this.waiting.delete(id);
    if (this.waiting.size === 0 && this.state !== 'live') {
      this.everLive = true;
      this.setState('live');
      this.h.synced();
    }
  }

  deliver(m, live) {
    if (m.time > this.lastTime) this.lastTime = m.time;
    this.h.message(m, live);
  }

  /** Publishes; resolves once the server says `published`, rejects with its error. */
  publish(topic, payload) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      const id = `p${this.nextId++}`;
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error('no answer from the server in 10 s')); }, 10000);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ op: 'publish', id, topic, payload });
    });
  }
}
