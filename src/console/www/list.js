// The device list: search, sort, and only the rows in view exist in the page (10,000 devices
// stay cheap). Arrow keys move the selection, Enter opens the device.

const ROW = 26;

export function age(ms) {
  if (!ms) return '-';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const collator = new Intl.Collator(undefined, { numeric: true }); // car-9 before car-10
const SORTS = {
  id: (a, b) => collator.compare(a.id, b.id),
  state: (a, b) => (a.state === 'offline' ? 0 : 1) - (b.state === 'offline' ? 0 : 1) || SORTS.id(a, b),
  seen: (a, b) => b.seen - a.seen || SORTS.id(a, b),
  battery: (a, b) => (a.battery ?? 999) - (b.battery ?? 999) || SORTS.id(a, b),
  signal: (a, b) => (a.signal ?? 999) - (b.signal ?? 999) || SORTS.id(a, b),
};

export class DeviceList {
  constructor(store, onSelect) {
    this.store = store;
    this.onSelect = onSelect;
    this.el = document.getElementById('list');
    this.spacer = document.getElementById('list-spacer');
    this.search = document.getElementById('search');
    this.sort = document.getElementById('sort');
    this.rows = [];
    this.shown = [];
    this.sortKey = '';
    this.sortedAt = 0;
    this.selected = null;
    this.search.addEventListener('input', () => this.refresh());
    this.sort.addEventListener('change', () => this.refresh());
    this.el.addEventListener('scroll', () => this.render());
    this.el.addEventListener('click', (e) => {
      const row = e.target.closest('.row');
      if (row) this.onSelect(row.dataset.id);
    });
    this.el.addEventListener('keydown', (e) => this.key(e));
    document.addEventListener('keydown', (e) => {
      if (e.key === '/' && document.activeElement.tagName !== 'INPUT') {
        e.preventDefault();
        this.search.focus();
      }
    });
  }

  /** Filters and sorts again when devices came or went, the search or sort changed, or (for
   *  sorts by changing values) every 2 s; otherwise only the rows in view are redrawn. */
  refresh(force = true) {
    const q = this.search.value.trim().toLowerCase();
    const key = `${q}|${this.sort.value}|${this.store.devices.size}`;
    const now = Date.now();
    if (force || key !== this.sortKey || (this.sort.value !== 'id' && now - this.sortedAt > 2000)) {
      const all = [...this.store.devices.values()];
      this.shown = q ? all.filter((d) => d.id.toLowerCase().includes(q)) : all;
      this.shown.sort(SORTS[this.sort.value]);
      this.spacer.style.height = `${this.shown.length * ROW}px`;
      this.sortKey = key;
      this.sortedAt = now;
    }
    this.store.listDirty = false;
    this.render();
  }

  render() {
    const first = Math.max(0, Math.floor(this.el.scrollTop / ROW) - 5);
    const count = Math.ceil(this.el.clientHeight / ROW) + 10;
    const slice = this.shown.slice(first, first + count);
    while (this.rows.length < slice.length) {
      const row = document.createElement('div');
      row.className = 'row';
      row.setAttribute('role', 'option');
      row.innerHTML = '<span class="id"></span><span class="seen"></span><span class="batt"></span><span class="sig"></span>';
      this.spacer.appendChild(row);
      this.rows.push(row);
    }
    const now = Date.now();
    this.rows.forEach((row, i) => {
      const d = slice[i];
      row.hidden = !d;
      if (!d) return;
      row.style.top = `${(first + i) * ROW}px`;
      row.dataset.id = d.id;
      row.dataset.state = d.state;
      row.dataset.alert = this.store.alertOf(d, now) || '';
      row.setAttribute('aria-selected', String(d.id === this.selected));
      const [id, seen, batt, sig] = row.children;
      id.textContent = d.id;
      seen.textContent = age(d.seen);
      batt.textContent = d.battery === null ? '-' : `${Math.round(d.battery)}%`;
      sig.textContent = d.signal === null ? '-' : String(Math.round(d.signal));
    });
  }

  select(id) {
    this.selected = id;
    const i = this.shown.findIndex((d) => d.id === id);
    if (i >= 0 && (i * ROW < this.el.scrollTop || (i + 1) * ROW > this.el.scrollTop + this.el.clientHeight)) {
      this.el.scrollTop = i * ROW - this.el.clientHeight / 2;
    }
    this.render();
  }

  key(e) {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Enter') return;
    e.preventDefault();
    let i = this.shown.findIndex((d) => d.id === this.selected);
    if (e.key === 'Enter') {
      if (i >= 0) this.onSelect(this.shown[i].id, true);
      return;
    }
    i = Math.min(this.shown.length - 1, Math.max(0, i + (e.key === 'ArrowDown' ? 1 : -1)));
    if (this.shown[i]) this.select(this.shown[i].id);
  }
}
