// The event feed (devices/+/events): newest first, new ones highlighted, filtered by device
// or type.

const SHOWN = 200;

export class EventFeed {
  constructor(store, onSelect) {
    this.store = store;
    this.el = document.getElementById('events');
    this.filter = document.getElementById('feed-filter');
    this.filter.addEventListener('input', () => this.render(false));
    this.el.addEventListener('click', (e) => {
      const dev = e.target.closest('.dev');
      if (dev) onSelect(dev.textContent);
    });
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target.classList.contains('dev')) onSelect(e.target.textContent);
    });
  }

  /** Redraws when events came (`fresh`: highlight those). */
  render(fresh = true) {
    const news = new Set(fresh ? this.store.newEvents : []);
    this.store.newEvents = [];
    const q = this.filter.value.trim().toLowerCase();
    const list = q ? this.store.events.filter((e) => e.id.toLowerCase().includes(q) || e.type.toLowerCase().includes(q)) : this.store.events;
    const items = list.slice(0, SHOWN).map((e) => {
      const li = document.createElement('li');
      li.dataset.severity = e.severity;
      li.dataset.device = e.id;
      li.dataset.type = e.type;
      if (news.has(e)) li.className = 'new';
      const when = document.createElement('span');
      when.className = 'when';
      when.textContent = new Date(e.time).toLocaleTimeString();
      when.title = new Date(e.time).toISOString();
      const dev = document.createElement('span');
      dev.className = 'dev';
      dev.textContent = e.id;
      dev.tabIndex = 0;
      const type = document.createElement('span');
      type.className = 'type';
      type.textContent = e.type;
      const text = document.createElement('div');
      text.className = 'text';
      text.textContent = e.text;
      li.append(when, dev, type, text);
      return li;
    });
    this.el.replaceChildren(...items);
  }
}
