// The device panel: last values, the track of the last hours from the history API with a
// time slider and play/pause replay, and a command to devices/{id}/commands.

import { age } from './list.js';

export class DevicePanel {
  constructor({ store, map, push, api, onClose }) {
    this.store = store;
    this.map = map;
    this.push = push;
    this.api = api;
    this.onClose = onClose;
    this.el = document.getElementById('panel');
    this.values = document.getElementById('panel-values');
    this.slider = document.getElementById('track-slider');
    this.play = document.getElementById('track-play');
    this.info = document.getElementById('track-info');
    this.result = document.getElementById('command-result');
    this.id = null;
    this.points = [];
    this.times = [];
    this.timer = null;
    document.getElementById('panel-close').addEventListener('click', () => this.close());
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && this.id) this.close(); });
    document.getElementById('track-load').addEventListener('click', () => this.loadTrack());
    this.play.addEventListener('click', () => this.toggle());
    this.slider.addEventListener('input', () => this.seek(Number(this.slider.value)));
    document.getElementById('command').addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendCommand();
    });
  }

  open(id) {
    if (this.id !== id) this.resetTrack();
    this.id = id;
    this.el.hidden = false;
    document.getElementById('panel-title').textContent = id;
    this.result.textContent = '';
    this.result.className = 'result';
    this.render();
  }

  close() {
    this.resetTrack();
    this.id = null;
    this.el.hidden = true;
    this.onClose();
  }

  render() {
    const d = this.id && this.store.devices.get(this.id);
    if (!d) return;
    const rows = [
      ['State', d.state],
      ['Last seen', d.seen ? `${age(d.seen)} ago` : '-'],
      ['Position', d.lat === null ? '-' : `${d.lat.toFixed(5)}, ${d.lon.toFixed(5)}`],
      ['Heading', d.heading === null ? '-' : `${Math.round(d.heading)}°`],
      ['Speed', d.speed === null ? '-' : `${(d.speed * 3.6).toFixed(0)} km/h`],
      ['Battery', d.battery === null ? '-' : `${Math.round(d.battery)}%`],
      ['Signal', d.signal === null ? '-' : `${Math.round(d.signal)} dBm`],
      ['Last event', d.lastEvent ? `${d.lastEvent.type} (${age(d.lastEvent.time)} ago)` : '-'],
    ];
    this.values.replaceChildren(...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      dd.dataset.field = k.toLowerCase().replace(' ', '-');
      return [dt, dd];
    }));
  }

  async loadTrack() {
    const id = this.id;
    const hours = Number(document.getElementById('track-hours').value);
    const to = Date.now();
    this.info.textContent = 'loading…';
    try {
      const res = await this.api(`/api/v1/devices/${encodeURIComponent(id)}/track?from=${to - hours * 3600000}&to=${to}&max_points=2000`);
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || res.statusText);
      if (this.id !== id) return;
      this.points = body.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
      this.times = body.properties.times;
      this.map.showTrack(this.points);
      const n = this.points.length;
      this.slider.max = String(Math.max(0, n - 1));
      this.slider.value = String(Math.max(0, n - 1));
      this.slider.disabled = n < 2;
      this.play.disabled = n < 2;
      this.info.textContent = n === 0 ? `no positions in the last ${hours} h` : `${n} points (of ${body.properties.total_points}) over the last ${hours} h`;
      this.info.dataset.points = String(n);
    } catch (err) {
      this.info.textContent = `track: ${err.message}`;
    }
  }

  seek(i) {
    if (!this.points[i]) return;
    this.map.moveCursor(this.points[i]);
    this.info.textContent = `${new Date(this.times[i]).toLocaleString()} (${i + 1} of ${this.points.length})`;
  }

  toggle() {
    if (this.timer) {
      this.stopReplay();
      return;
    }
    if (Number(this.slider.value) >= this.points.length - 1) this.slider.value = '0';
    this.play.textContent = 'Pause';
    const step = Math.max(1, Math.round(this.points.length / 300)); // about 30 s for any track
    this.timer = setInterval(() => {
      const i = Math.min(this.points.length - 1, Number(this.slider.value) + step);
      this.slider.value = String(i);
      this.seek(i);
      if (i >= this.points.length - 1) this.stopReplay();
    }, 100);
  }

  stopReplay() {
    clearInterval(this.timer);
    this.timer = null;
    this.play.textContent = 'Play';
  }

  resetTrack() {
    this.stopReplay();
    this.map.clearTrack();
    this.points = [];
    this.times = [];
    this.slider.max = '0';
    this.slider.disabled = true;
    this.play.disabled = true;
    this.info.textContent = '';
    delete this.info.dataset.points;
  }

  async sendCommand() {
    const text = document.getElementById('command-text').value.trim();
    if (!text || !this.id) return;
    let payload = text;
    try {
      payload = JSON.parse(text);
    } catch {
      // plain text is sent as it is
    }
    this.result.className = 'result';
    this.result.textContent = 'sending…';
    try {
      await this.push.publish(`devices/${this.id}/commands`, payload);
      this.result.className = 'result good';
      this.result.textContent = `sent to devices/${this.id}/commands`;
    } catch (err) {
      this.result.className = 'result bad';
      this.result.textContent = `refused: ${err.message}`;
    }
  }
}
