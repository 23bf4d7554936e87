// The live map: Leaflet for panning, zooming and tiles (the agency's tile server, or the
// embedded country outlines and a coordinate grid), and one canvas on top that draws every
// device (a triangle along its heading, or a dot), coloured by state and recent events, in
// clusters below CLUSTER_BELOW. Keyboard: the map takes focus; Leaflet pans with the arrows and
// zooms with + and -; ']' and '[' step through what is drawn, nearest the centre first, and Enter
// opens the device at the cursor (or zooms into the cluster). The cursor is ringed, labelled and
// announced.

import { toGeoJSON } from './topojson.js';

const CLUSTER_BELOW = 13; // zoom levels below this group nearby devices
const DETAIL_FROM = 5; // the 1:50m outlines from this zoom on; the 1:110m ones below
const CELL = 44; // cluster cell, px
const COLOURS = { alarm: '#ff4d4f', warning: '#f0b429', online: '#3ccf6e', offline: '#6b7785' };
const GRID_STEPS = [30, 30, 20, 10, 10, 5, 2, 1, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.0025, 0.001, 0.0005, 0.00025, 0.0001];

export class LiveMap {
  constructor(el, config, store, onSelect) {
    this.store = store;
    this.onSelect = onSelect;
    this.selected = null;
    this.items = [];
    this.placed = 0; // devices in view at the last draw (clustered or not) // what the last draw put where: {x, y, id} or {x, y, cluster: [lat, lon]}
    this.fitted = false;
    this.map = L.map(el, { zoomAnimation: false, worldCopyJump: true, minZoom: 2, maxZoom: 19, preferCanvas: true }).setView([20, 0], 2);
    this.grid = !config.tile_url;
    this.outlines = null; // which embedded outlines are shown (diagnostics)
    if (config.tile_url) {
      L.tileLayer(config.tile_url, { attribution: config.tile_attribution || '', maxZoom: 19 }).addTo(this.map);
    } else {
      this.map.attributionControl.addAttribution('Outlines: Natural Earth (public domain)');
      this.loadBasemap();
    }
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'devices';
    Object.assign(this.canvas.style, { position: 'absolute', left: '0', top: '0', zIndex: '450', pointerEvents: 'none' });
    el.appendChild(this.canvas);
    this.ctx = this.canvas.getContext('2d');
    this.viewChanged = true;
    this.map.on('move zoom resize viewreset', () => { this.viewChanged = true; });
    this.map.on('click', (e) => this.click(e.containerPoint));
    this.track = null;
    this.cursor = null;
    this.keyCursor = null; // {id} or {cluster: [lat, lon], n}: where ']' and '[' got to
    this.announcer = document.getElementById('map-cursor');
    el.setAttribute('aria-label', 'Map of the devices: ] and [ step through them, Enter opens one');
    el.addEventListener('keydown', (e) => this.key(e));
  }

  key(e) {
    if ((e.key === ']' || e.key === '[') && this.items.length > 0) {
      const size = this.map.getSize();
      const away = (it) => Math.hypot(it.x - size.x / 2, it.y - size.y / 2);
      const order = [...this.items].sort((a, b) => away(a) - away(b));
      const at = order.indexOf(this.findItem(this.keyCursor));
      const step = e.key === ']' ? 1 : order.length - 1;
      const next = order[at < 0 ? (e.key === ']' ? 0 : order.length - 1) : (at + step) % order.length];
      this.keyCursor = next.cluster ? { cluster: next.cluster, n: next.n } : { id: next.id };
      this.announcer.textContent = next.cluster
        ? `${next.n} devices together: Enter zooms in`
        : `${next.id}, ${colourOf(this.store, this.store.devices.get(next.id), Date.now())}: Enter opens it`;
      this.viewChanged = true;
      e.preventDefault();
    } else if (e.key === 'Enter' && this.keyCursor) {
      const c = this.keyCursor;
      this.keyCursor = null;
      this.announcer.textContent = '';
      this.viewChanged = true;
      if (c.cluster) this.map.setView(c.cluster, Math.min(this.map.getZoom() + 2, CLUSTER_BELOW));
      else this.onSelect(c.id);
      e.preventDefault();
    } else if (e.key === 'Escape' && this.keyCursor) {
      this.keyCursor = null;
      this.announcer.textContent = '';
      this.viewChanged = true;
    }
  }

  /** The embedded outlines in two resolutions: 1:110m (108 KB) at start and for wide views,
   *  1:50m (756 KB) fetched and parsed only once the view is closer than DETAIL_FROM. */
  async loadBasemap() {
    const outlines = async (name) => {
      const res = await fetch(`/console/vendor/${name}.json`);
      return L.geoJSON(toGeoJSON(await res.json(), 'countries'), { interactive: false, renderer: L.canvas({ padding: 0.2 }),
        style: { color: '#33424f', weight: 1, fillColor: '#151e27', fillOpacity: 1 } });
    };
    const coarse = await outlines('countries-110m');
    let fine = null;
    let loading = false;
    const show = async () => {
      const detail = this.map.getZoom() >= DETAIL_FROM;
      if (detail && !fine) {
        if (!this.map.hasLayer(coarse)) coarse.addTo(this.map); // until the fine ones are in
        if (!loading) {
          loading = true;
          fine = await outlines('countries-50m');
          show(); // for the zoom of now
        }
        return;
      }
      const [on, off] = detail ? [fine, coarse] : [coarse, fine];
      if (off) off.remove();
      if (!this.map.hasLayer(on)) on.addTo(this.map);
      this.outlines = detail ? 'countries-50m' : 'countries-110m';
    };
    this.map.on('zoomend', show);
    await show();
  }

  /** Fits the view to the devices once, when their first positions are known. */
  fitOnce() {
    if (this.fitted) return;
    const pts = [];
    for (const d of this.store.devices.values()) if (d.lat !== null) pts.push([d.lat, d.lon]);
    if (pts.length === 0) return;
    this.fitted = true;
    this.map.fitBounds(L.latLngBounds(pts).pad(0.1), { maxZoom: 15 });
  }

  select(id) {
    this.selected = id;
    this.viewChanged = true;
  }

  focus(id) {
    const d = this.store.devices.get(id);
    if (d && d.lat !== null) this.map.setView([d.lat, d.lon], Math.max(this.map.getZoom(), 14));
  }

  /** Draws when the data or the view changed (at most every `minGap` ms for data). */
  frame(now, minGap) {
    const due = this.store.mapDirty && now - (this.drawnAt || 0) >= minGap;
    if (!due && !this.viewChanged && now - (this.drawnAt || 0) < 1000) return false;
    this.draw(now);
    return true;
  }

  draw(now) {
    this.drawnAt = now;
    this.viewChanged = false;
    this.store.mapDirty = false;
    const size = this.map.getSize();
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== size.x * ratio || this.canvas.height !== size.y * ratio) {
      this.canvas.width = size.x * ratio;
      this.canvas.height = size.y * ratio;
      this.canvas.style.width = `${size.x}px`;
      this.canvas.style.height = `${size.y}px`;
    }
    const ctx = this.ctx;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    const zoom = this.map.getZoom();
    const scale = 256 * 2 ** zoom;
    const origin = this.map.project(this.map.containerPointToLatLng([0, 0]), zoom);
    if (this.grid) this.drawGrid(ctx, size, zoom);
    const project = (d) => {
      const s = Math.sin((d.lat * Math.PI) / 180);
      return [scale * ((d.lon + 180) / 360) - origin.x, scale * (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) - origin.y];
    };
    const cluster = zoom < CLUSTER_BELOW;
    const cells = new Map();
    const singles = [];
    for (const d of this.store.devices.values()) {
      if (d.lat === null) continue;
      const [x, y] = project(d);
      if (x < -20 || y < -20 || x > size.x + 20 || y > size.y + 20) continue;
      if (!cluster || d.id === this.selected) {
        singles.push([d, x, y]);
        continue;
      }
      const key = Math.floor(x / CELL) * 100003 + Math.floor(y / CELL);
      let c = cells.get(key);
      if (!c) cells.set(key, (c = { n: 0, x: 0, y: 0, lat: 0, lon: 0, worst: 'offline', first: null }));
      c.n++;
      c.x += x;
      c.y += y;
      c.lat += d.lat;
      c.lon += d.lon;
      c.first = c.first || [d, x, y];
      c.worst = worse(c.worst, colourOf(this.store, d, now));
    }
    this.items = [];
    this.placed = singles.length;
    for (const c of cells.values()) this.placed += c.n;
    const groups = { alarm: new Path2D(), warning: new Path2D(), online: new Path2D(), offline: new Path2D() };
    const glyph = (d, x, y) => {
      const path = groups[colourOf(this.store, d, now)];
      if (d.heading !== null) {
        const a = (d.heading * Math.PI) / 180;
        const sin = Math.sin(a);
        const cos = Math.cos(a);
        path.moveTo(x + 8 * sin, y - 8 * cos);
        path.lineTo(x - 5 * cos - 5 * sin, y - 5 * sin + 5 * cos);
        path.lineTo(x + 5 * cos - 5 * sin, y + 5 * sin + 5 * cos);
        path.closePath();
      } else {
        path.moveTo(x + 5, y);
        path.arc(x, y, 5, 0, 2 * Math.PI);
      }
      this.items.push({ x, y, id: d.id });
    };
    for (const c of cells.values()) {
      if (c.n === 1) glyph(...c.first);
    }
    for (const [d, x, y] of singles) glyph(d, x, y);
    ctx.strokeStyle = 'rgba(0,0,0,.6)';
    ctx.lineWidth = 1;
    for (const name of ['offline', 'online', 'warning', 'alarm']) {
      ctx.fillStyle = COLOURS[name];
      ctx.fill(groups[name]);
      ctx.stroke(groups[name]);
    }
    ctx.font = '600 11px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const c of cells.values()) {
      if (c.n === 1) continue;
      const x = c.x / c.n;
      const y = c.y / c.n;
      const r = 10 + 4 * Math.log10(c.n);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = COLOURS[c.worst];
      ctx.globalAlpha = 0.85;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.stroke();
      ctx.fillStyle = '#0f1419';
      ctx.fillText(String(c.n), x, y);
      this.items.push({ x, y, r, n: c.n, cluster: [c.lat / c.n, c.lon / c.n] });
    }
    this.drawKeyCursor(ctx);
    const sel = this.selected && this.store.devices.get(this.selected);
    if (sel && sel.lat !== null) {
      const [x, y] = project(sel);
      ctx.beginPath();
      ctx.arc(x, y, 11, 0, 2 * Math.PI);
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.stroke();
    }
    this.store.noteDrawn(Date.now());
  }

  /** What the cursor points at in the last draw: its device, or the nearest cluster within a cell. */
  findItem(c) {
    if (!c) return undefined;
    if (c.id) return this.items.find((it) => it.id === c.id);
    const p = this.map.latLngToContainerPoint(c.cluster);
    let best;
    let bestDist = CELL;
    for (const it of this.items) {
      const dist = it.cluster ? Math.hypot(it.x - p.x, it.y - p.y) : Infinity;
      if (dist < bestDist) {
        best = it;
        bestDist = dist;
      }
    }
    return best;
  }

  /** The keyboard cursor: a dashed ring and its name, where it is drawn now (else it is gone). */
  drawKeyCursor(ctx) {
    const it = this.findItem(this.keyCursor);
    if (!it) {
      this.keyCursor = null;
      return;
    }
    if (it.cluster) this.keyCursor.cluster = it.cluster; // clusters drift as their devices move
    ctx.save();
    ctx.beginPath();
    ctx.arc(it.x, it.y, (it.r || 8) + 6, 0, 2 * Math.PI);
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = '#4ea1ff';
    ctx.lineWidth = 2;
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.font = '600 12px system-ui, sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = '#e6edf3';
    ctx.fillText(it.cluster ? `${it.n} devices` : it.id, it.x + (it.r || 8) + 10, it.y);
    ctx.restore();
  }

  drawGrid(ctx, size, zoom) {
    const step = GRID_STEPS[Math.min(GRID_STEPS.length - 1, Math.max(0, zoom))];
    const nw = this.map.containerPointToLatLng([0, 0]);
    const se = this.map.containerPointToLatLng([size.x, size.y]);
    ctx.strokeStyle = 'rgba(120,150,180,.18)';
    ctx.fillStyle = 'rgba(150,170,190,.55)';
    ctx.lineWidth = 1;
    ctx.font = '10px system-ui, sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    const digits = step >= 1 ? 0 : Math.ceil(-Math.log10(step));
    for (let lon = Math.ceil(nw.lng / step) * step; lon <= se.lng; lon += step) {
      const x = Math.round(this.map.latLngToContainerPoint([nw.lat, lon]).x) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, size.y);
      ctx.stroke();
      ctx.fillText(`${lon.toFixed(digits)}°`, x + 3, 3);
    }
    for (let lat = Math.ceil(se.lat / step) * step; lat <= nw.lat; lat += step) {
      const y = Math.round(this.map.latLngToContainerPoint([lat, nw.lng]).y) + 0.5;
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(size.x, y);
      ctx.stroke();
      ctx.fillText(`${lat.toFixed(digits)}°`, 3, y + 2);
    }
  }

  click(p) {
    let best = null;
    let bestDist = Infinity;
    for (const it of this.items) {
      const dist = Math.hypot(it.x - p.x, it.y - p.y);
      const reach = it.cluster ? it.r : 10;
      if (dist <= reach && dist < bestDist) {
        best = it;
        bestDist = dist;
      }
    }
    if (!best) return;
    if (best.cluster) this.map.setView(best.cluster, Math.min(this.map.getZoom() + 2, CLUSTER_BELOW));
    else this.onSelect(best.id);
  }

  /** Shows a track ([[lat, lon], ...]) and a replay cursor at `index`. */
  showTrack(points) {
    this.clearTrack();
    if (points.length === 0) return;
    const renderer = L.svg(); // one line and a cursor: crisp, and each one an element
    this.track = L.polyline(points, { renderer, color: '#4ea1ff', weight: 3, opacity: 0.85, interactive: false }).addTo(this.map);
    this.cursor = L.circleMarker(points[points.length - 1], { renderer, radius: 7, color: '#ffffff', weight: 2, fillColor: '#4ea1ff', fillOpacity: 1, interactive: false }).addTo(this.map);
    this.map.fitBounds(this.track.getBounds().pad(0.15), { maxZoom: 16 });
  }

  moveCursor(point) {
    if (this.cursor) this.cursor.setLatLng(point);
  }

  clearTrack() {
    if (this.track) this.track.remove();
    if (this.cursor) this.cursor.remove();
    this.track = null;
    this.cursor = null;
  }
}

function colourOf(store, d, now) {
  const alert = store.alertOf(d, now);
  if (alert) return alert;
  return d.state === 'offline' ? 'offline' : 'online';
}

const RANK = { offline: 0, online: 1, warning: 2, alarm: 3 };
function worse(a, b) { return RANK[b] > RANK[a] ? b : a; }
