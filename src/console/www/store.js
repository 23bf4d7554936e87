// What the console knows about each device, from `devices/{id}/location|status|events`, and
// the recent events. Views read it and redraw what changed (`dirty`).

const ALERT_MS = 60000; // an event colours its device this long
const EVENTS_KEPT = 300;

export class DeviceStore {
  constructor(config) {
    this.latField = config.lat_field || 'lat';
    this.lonField = config.lon_field || 'lon';
    this.devices = new Map();
    this.events = []; // newest first
    this.eventKeys = new Set();
    this.mapDirty = true;
    this.listDirty = true;
    this.newEvents = [];
    this.lagSamples = []; // [at, ms]: device timestamp to drawn
    this.moved = new Set(); // ids whose position changed since the last draw
    this.received = 0;
  }

  device(id) {
    let d = this.devices.get(id);
    if (!d) {
      d = { id, lat: null, lon: null, heading: null, speed: null, posTime: 0, sentAt: 0, state: 'unknown', battery: null, signal: null,
            seen: 0, status: null, location: null, alert: null, alertUntil: 0, lastEvent: null };
      this.devices.set(id, d);
      this.listDirty = true;
    }
    return d;
  }

  /** One message (snapshot, replay, or `live`). */
  apply(m, live = false) {
    const parts = m.topic.split('/');
    if (parts.length !== 3 || parts[0] !== 'devices') return;
    const [, id, kind] = parts;
    this.received++;
    const d = this.device(id);
    const p = m.payload;
    if (kind === 'location') {
      if (m.time < d.posTime) return;
      const lat = Number(p && p[this.latField]);
      const lon = Number(p && p[this.lonField]);
      if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
      d.lat = lat;
      d.lon = lon;
      const rawHeading = p.heading ?? p.course ?? p.bearing;
      d.heading = rawHeading !== undefined && rawHeading !== null && Number.isFinite(Number(rawHeading)) ? Number(rawHeading) : null;
      d.speed = Number.isFinite(Number(p.speed)) ? Number(p.speed) : null;
      d.posTime = m.time;
      d.sentAt = Number.isFinite(Number(p.ts)) ? Number(p.ts) : m.time;
      d.location = p;
      this.seenAt(d, m.time);
      if (live) this.moved.add(id);
      this.mapDirty = true;
    } else if (kind === 'status') {
      if (m.time < (d.statusTime || 0)) return;
      d.statusTime = m.time;
      d.status = p;
      const state = typeof p === 'string' ? p : p && (p.state ?? (p.online === true ? 'online' : p.online === false ? 'offline' : undefined));
      d.state = state === 'offline' ? 'offline' : 'online';
      if (p && typeof p === 'object') {
        if (Number.isFinite(Number(p.battery))) d.battery = Number(p.battery);
        if (Number.isFinite(Number(p.signal))) d.signal = Number(p.signal);
      }
      if (d.state === 'online') this.seenAt(d, m.time);
      this.mapDirty = true;
      this.listDirty = true;
    } else if (kind === 'events') {
      const key = `${m.topic}|${m.time}|${JSON.stringify(p)}`;
      if (this.eventKeys.has(key)) return; // a replay repeats the seam's millisecond
      this.eventKeys.add(key);
      const e = { id, time: m.time, type: (p && p.type) || (typeof p === 'string' ? p : 'event'),
                  severity: (p && p.severity) || 'info', text: (p && p.text) || (typeof p === 'string' ? '' : JSON.stringify(p)) };
      this.insertEvent(e);
      if (!d.lastEvent || e.time >= d.lastEvent.time) {
        d.lastEvent = e;
        if (e.severity === 'alarm' || e.severity === 'warning') {
          d.alert = e.severity;
          d.alertUntil = e.time + ALERT_MS;
        }
      }
      this.seenAt(d, m.time);
      this.mapDirty = true;
    }
  }

  seenAt(d, t) {
    if (t > d.seen) {
      d.seen = t;
      if (d.state === 'unknown') d.state = 'online';
    }
    this.listDirty = true;
  }

  insertEvent(e) {
    let i = 0;
    while (i < this.events.length && this.events[i].time > e.time) i++;
    this.events.splice(i, 0, e);
    this.newEvents.push(e);
    if (this.events.length > EVENTS_KEPT) this.events.pop();
    if (this.eventKeys.size > 4 * EVENTS_KEPT) this.eventKeys = new Set([...this.eventKeys].slice(-2 * EVENTS_KEPT));
  }

  /** The alert colour of `d` now: "alarm", "warning" or null. */
  alertOf(d, now) { return d.alert && d.alertUntil > now ? d.alert : null; }

  counts() {
    let online = 0;
    let offline = 0;
    for (const d of this.devices.values()) {
      if (d.state === 'offline') offline++; else online++;
    }
    return { online, offline, total: this.devices.size };
  }

  /** Records how long the positions drawn now took from their devices (their `ts`). */
  noteDrawn(now) {
    for (const id of this.moved) {
      const d = this.devices.get(id);
      if (d && d.sentAt) this.lagSamples.push([now, now - d.sentAt]);
    }
    this.moved.clear();
    const from = now - 10000;
    let cut = 0;
    while (cut < this.lagSamples.length && this.lagSamples[cut][0] < from) cut++;
    cut = Math.max(cut, this.lagSamples.length - 20000);
    if (cut > 0) this.lagSamples.splice(0, cut);
  }

  /** p99 of the lag samples of the last 10 s, in ms (null: none). */
  lagP99() {
    if (this.lagSamples.length === 0) return null;
    const v = this.lagSamples.map((s) => s[1]).sort((a, b) => a - b);
    return v[Math.min(v.length - 1, Math.floor(v.length * 0.99))];
  }
}
