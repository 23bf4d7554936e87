// The event feed (devices/+/events): newest first, new ones highlighted for a few seconds,
// filtered by device or type. New events are added to the top; the list is rebuilt only when
// the filter changes or an older event arrives late (a replay).

const SHOWN = 200;
const HIGHLIGHT_MS = 4000;

export class EventFeed {
  constructor(store, onSelect) {
    this.store = store;
    this.el = document.getElementById('events');
    this.filter = document.getElementById('feed-filter');
    this.newest = 0; // time of the newest event shown
    this.filter.addEventListener('input', () => this.rebuild());
    this.el.addEventListener('click', (e) => {
      const dev = e.target.closest('.dev');
      if (dev) onSelect(dev.textContent);
    });
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target.classList.contains('dev')) onSelect(e.target.textContent);
    });
  }

  matches(e) {
    const q = this.filter.value.trim().toLowerCase();
    return !q || e.id.toLowerCase().includes(q) || e.type.toLowerCase().includes(q);
  }

  /** Shows the events that came since the last call. */
  update() {
    const fresh = this.store.newEvents.sort((a, b) => a.time - b.time);
    this.store.newEvents = [];
    if (fresh.length > 0 && fresh[0].time < this.newest) {
      this.rebuild(fresh);
      return;
    }
    const items = fresh.filter((e) => this.matches(e)).map((e) => this.item(e, true));
    if (items.length === 0) return;
    this.newest = fresh[fresh.length - 1].time;
    this.el.prepend(...items.reverse());
    while (this.el.childElementCount > SHOWN) this.el.lastElementChild.remove();
    this.unhighlight(items);
  }

  rebuild(highlight = []) {
    const news = new Set(highlight);
    const list = this.store.events.filter((e) => this.matches(e)).slice(0, SHOWN);
    const items = list.map((e) => this.item(e, news.has(e)));
    this.newest = this.store.events.length > 0 ? this.store.events[0].time : 0;
    this.el.replaceChildren(...items);
    this.unhighlight(items.filter((li) => li.classList.contains('new')));
  }

  unhighlight(items) {
    if (items.length > 0) setTimeout(() => items.forEach((li) => li.classList.remove('new')), HIGHLIGHT_MS);
  }

  item(e, fresh) {
    const li = document.createElement('li');
    li.dataset.severity = e.severity;
    li.dataset.device = e.id;
    li.dataset.type = e.type;
    if (fresh) li.className = 'new';
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
  }
}
