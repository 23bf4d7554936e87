// The page's side of the connection (push-worker.js runs it): states, batches of messages,
// and publishes answered with a promise.

export class Connection {
  constructor({ token, history, handlers }) {
    this.h = handlers;
    this.state = 'connecting';
    this.pending = new Map();
    this.nextId = 1;
    this.worker = new Worker('/console/push-worker.js', { type: 'module' });
    this.worker.onmessage = ({ data: m }) => this.receive(m);
    this.worker.onerror = (e) => handlers.state('reconnecting', `the connection's worker failed: ${e.message}`);
    this.start = () => this.worker.postMessage({ type: 'start', token, history });
    // A laptop that wakes up checks its socket at once.
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.worker.postMessage({ type: 'wake' }); });
  }

  receive(m) {
    switch (m.type) {
      case 'batch':
        for (const [msg, live] of m.messages) this.h.message(msg, live);
        break;
      case 'state':
        this.state = m.name;
        this.h.state(m.name, m.detail);
        break;
      case 'synced':
        this.h.synced();
        break;
      case 'error':
        this.h.error(m.text);
        break;
      case 'published':
      case 'refused': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (p && m.type === 'published') p.resolve();
        else if (p) p.reject(new Error(m.error));
        break;
      }
      default:
        break;
    }
  }

  /** Resolves once the server says `published`; rejects with its error. */
  publish(topic, payload) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'publish', id, topic, payload });
    });
  }
}
