// The console's connection, off the page's main thread: at 10,000 devices the socket brings
// over a thousand frames a second, and reading and parsing them here leaves the page's frames
// free. Messages go to the page in batches (every BATCH_MS); states, errors and answers to
// publishes at once, after the messages before them.

import { PushClient } from './push.js';

const BATCH_MS = 25;
let client = null;
let batch = [];
let timer = null;

function flush() {
  clearTimeout(timer);
  timer = null;
  if (batch.length > 0) postMessage({ type: 'batch', messages: batch });
  batch = [];
}

self.addEventListener('online', () => client && client.keepAlive(true));

self.onmessage = ({ data: m }) => {
  if (m.type === 'start') {
    client = new PushClient({
      token: m.token,
      history: m.history,
      handlers: {
        message: (msg, live) => {
          batch.push([msg, live]);
          if (timer === null) timer = setTimeout(flush, BATCH_MS);
        },
        state: (name, detail) => {
          flush();
          postMessage({ type: 'state', name, detail });
        },
        error: (text) => postMessage({ type: 'error', text }),
        synced: () => {
          flush();
          postMessage({ type: 'synced' });
        },
      },
    });
    self.pushClient = client; // for diagnostics from DevTools
    client.start();
  } else if (m.type === 'publish') {
    flush();
    client.publish(m.topic, m.payload).then(
      () => postMessage({ type: 'published', id: m.id }),
      (err) => postMessage({ type: 'refused', id: m.id, error: err.message }),
    );
  } else if (m.type === 'wake') {
    client.keepAlive(true);
  }
};
