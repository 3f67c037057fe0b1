// hexnet web map: MapLibre GL with only our own layers (no glyphs, sprites
// or tiles unless a base map is configured), fed by the /api/v1 endpoints
// and the /api/v1/live WebSocket.
import maplibregl from 'maplibre-gl';
import { reasonText } from './reasons.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { mode: params.get('mode') || 'coverage', selected: null, ready: { hexes: false, hotspots: false }, hexRes: 0 };
window.hexnet = state; // hooks for the browser test and for curious users

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const fmt = (v, d = 1) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));
const ago = (t) => {
  if (!t || t.startsWith('0001')) return 'never';
  const s = (Date.now() - Date.parse(t)) / 1000;
  if (s < 0) return new Date(t).toLocaleString();
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
};
const short = (a) => (a && a.length > 14 ? `${a.slice(0, 6)}…${a.slice(-6)}` : a);

async function api(path) {
  const r = await fetch(path);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(body?.error?.message || r.statusText), { code: body?.error?.code, status: r.status });
  return body;
}

// ---- colour modes and legend -------------------------------------------

const RSSI_STOPS = [-130, '#312e81', -115, '#2563eb', -100, '#10b981', -85, '#facc15', -70, '#f97316'];
const SCALE_STOPS = [0, '#dc2626', 0.5, '#facc15', 1, '#22c55e'];
const MODES = {
  coverage: { title: 'Best witness RSSI (dBm)', prop: 'best_rssi', stops: RSSI_STOPS, empty: 'no valid witness yet' },
  scale: { title: 'Reward scale (mean of hotspots)', prop: 'reward_scale', stops: SCALE_STOPS, empty: 'no scale yet' },
  mapper: { title: 'Mapper RSSI (dBm)', prop: 'best_rssi', stops: RSSI_STOPS, empty: '' },
};

function colorExpr(mode) {
  const m = MODES[mode];
  return ['case', ['==', ['get', m.prop], null], '#475569', ['interpolate', ['linear'], ['to-number', ['get', m.prop]], ...m.stops]];
}

function renderLegend() {
  const m = MODES[state.mode];
  const cols = m.stops.filter((_, i) => i % 2 === 1);
  const vals = m.stops.filter((_, i) => i % 2 === 0);
  $('legend').innerHTML = `<b>${esc(m.title)}</b>
    <div class="bar" style="background:linear-gradient(to right,${cols.join(',')})"></div>
    <div class="ticks">${vals.map((v) => `<span>${v}</span>`).join('')}</div>
    ${m.empty ? `<div><span class="sw" style="background:#475569;border-radius:2px"></span>${esc(m.empty)}</div>` : ''}
    <div><span class="sw" style="background:#22c55e"></span>online hotspot <span class="sw" style="background:#9ca3af;margin-left:6px"></span>offline</div>
    <div><span class="sw" style="background:#4ade80;border-radius:0;height:3px"></span>valid witness <span class="sw" style="background:#f87171;border-radius:0;height:3px;margin-left:6px"></span>invalid</div>
    <div style="color:#94a3b8">hex resolution ${state.hexRes || '—'}</div>`;
}

// ---- the map ---------------------------------------------------------------

const BLANK = { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0e1a24' } }] };
const EMPTY = { type: 'FeatureCollection', features: [] };

function rasterStyle(url, attribution) {
  return {
    version: 8,
    sources: { basemap: { type: 'raster', tiles: [url], tileSize: 256, attribution: attribution || '' } },
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0e1a24' } },
      { id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 0.75 } }],
  };
}

async function start() {
  let cfg = {};
  try { cfg = await api('/api/v1/config'); } catch (e) { /* defaults */ }
  const bm = cfg.basemap || {};
  const styleURL = params.get('style') || bm.style_url;
  const tiles = params.get('tiles') || bm.tile_url;
  const none = params.get('basemap') === 'none';
  let style = BLANK;
  if (!none && styleURL) style = styleURL;
  else if (!none && tiles) style = rasterStyle(tiles, params.get('attribution') || bm.attribution);

  const map = new maplibregl.Map({ container: 'map', style, center: [0, 20], zoom: 2, attributionControl: { compact: true }, fadeDuration: 0 });
  state.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
  map.on('load', () => { addLayers(map); initialView(map); });
  map.on('moveend', () => scheduleRefresh(map));
  map.on('click', (e) => onClick(map, e));
  for (const l of ['hotspots', 'hex-fill', 'coverage-fill']) {
    map.on('mouseenter', l, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', l, () => { map.getCanvas().style.cursor = ''; });
  }
  $('mode').value = state.mode;
  $('mode').addEventListener('change', () => { state.mode = $('mode').value; applyMode(map); refresh(map); });
  $('panel-close').addEventListener('click', () => closePanel(map));
  setupSearch(map);
  renderLegend();
  refreshStats();
  setInterval(refreshStats, 30000);
  connectLive(map);
}

function addLayers(map) {
  map.addSource('hexes', { type: 'geojson', data: EMPTY });
  map.addSource('coverage', { type: 'geojson', data: EMPTY });
  map.addSource('hotspots', { type: 'geojson', data: EMPTY });
  map.addSource('edges', { type: 'geojson', data: EMPTY });
  map.addSource('selected', { type: 'geojson', data: EMPTY });
  map.addLayer({ id: 'hex-fill', type: 'fill', source: 'hexes', paint: { 'fill-color': colorExpr('coverage'), 'fill-opacity': 0.65 } });
  map.addLayer({ id: 'hex-line', type: 'line', source: 'hexes', paint: { 'line-color': '#cbd5e1', 'line-opacity': 0.35, 'line-width': 1 } });
  map.addLayer({ id: 'coverage-fill', type: 'fill', source: 'coverage', layout: { visibility: 'none' }, paint: { 'fill-color': colorExpr('mapper'), 'fill-opacity': 0.7 } });
  map.addLayer({ id: 'coverage-line', type: 'line', source: 'coverage', layout: { visibility: 'none' }, paint: { 'line-color': '#e2e8f0', 'line-opacity': 0.3, 'line-width': 0.5 } });
  map.addLayer({ id: 'selected-line', type: 'line', source: 'selected', paint: { 'line-color': '#f8fafc', 'line-width': 3 } });
  map.addLayer({
    id: 'edges', type: 'line', source: 'edges', layout: { 'line-cap': 'round' },
    paint: { 'line-color': ['case', ['get', 'valid'], '#4ade80', '#f87171'], 'line-width': 2, 'line-opacity': 0.85, 'line-dasharray': ['case', ['get', 'valid'], ['literal', [1, 0]], ['literal', [2, 2]]] },
  });
  map.addLayer({
    id: 'hotspots', type: 'circle', source: 'hotspots',
    paint: {
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 4, 3, 10, 6, 15, 9],
      'circle-color': ['case', ['get', 'online'], '#22c55e', '#9ca3af'],
      'circle-stroke-color': ['case', ['==', ['get', 'address'], ''], '#ffffff', '#0e1a24'],
      'circle-stroke-width': 1.5,
    },
  });
  applyMode(map);
}

function applyMode(map) {
  if (!map.getLayer('hex-fill')) return;
  const mapper = state.mode === 'mapper';
  map.setLayoutProperty('coverage-fill', 'visibility', mapper ? 'visible' : 'none');
  map.setLayoutProperty('coverage-line', 'visibility', mapper ? 'visible' : 'none');
  map.setPaintProperty('hex-fill', 'fill-color', colorExpr(state.mode === 'mapper' ? 'coverage' : state.mode));
  map.setPaintProperty('hex-fill', 'fill-opacity', mapper ? 0.12 : 0.65);
  map.setPaintProperty('hotspots', 'circle-stroke-color', ['case', ['==', ['get', 'address'], state.selected || ''], '#ffffff', '#0e1a24']);
  map.setPaintProperty('hotspots', 'circle-stroke-width', ['case', ['==', ['get', 'address'], state.selected || ''], 3, 1.5]);
  renderLegend();
}

async function initialView(map) {
  try {
    const fc = await api('/api/v1/hotspots.geojson');
    if (fc.features.length) {
      const b = new maplibregl.LngLatBounds();
      fc.features.forEach((f) => b.extend(f.geometry.coordinates));
      map.fitBounds(b, { padding: 60, duration: 0, maxZoom: 13 });
    }
  } catch (e) { /* empty network */ }
  refresh(map);
}

// Hex resolution by zoom: res 4 far out to res 10 close in.
export function resForZoom(z) {
  if (z < 5.5) return 4;
  if (z < 7) return 5;
  if (z < 8.5) return 6;
  if (z < 9.8) return 7;
  if (z < 11) return 8;
  if (z < 12.3) return 9;
  return 10;
}

let timer;
function scheduleRefresh(map) { clearTimeout(timer); timer = setTimeout(() => refresh(map), 120); }

function bboxOf(map) {
  const b = map.getBounds();
  const c = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  return [c(b.getWest(), -180, 180), c(b.getSouth(), -90, 90), c(b.getEast(), -180, 180), c(b.getNorth(), -90, 90)].map((v) => v.toFixed(5)).join(',');
}

let seq = 0;
async function refresh(map) {
  if (!map.getSource('hexes')) return;
  const my = ++seq;
  const bbox = bboxOf(map);
  const res = resForZoom(map.getZoom());
  state.hexRes = res;
  renderLegend();
  const notice = [];
  const jobs = [
    api(`/api/v1/hexes?bbox=${bbox}&res=${res}`).then((fc) => { if (my === seq) { map.getSource('hexes').setData(fc); state.ready.hexes = fc.features.length > 0; } })
      .catch((e) => { if (e.code === 'too_large') { map.getSource('hexes').setData(EMPTY); notice.push('Zoom in to see hexes here.'); } else notice.push(e.message); }),
    api(`/api/v1/hotspots.geojson?bbox=${bbox}`).then((fc) => { if (my === seq) { map.getSource('hotspots').setData(fc); state.ready.hotspots = fc.features.length > 0; } })
      .catch((e) => notice.push(e.message)),
  ];
  if (state.mode === 'mapper') {
    jobs.push(api(`/api/v1/coverage?bbox=${bbox}&res=${Math.min(res, 9)}`).then((fc) => { if (my === seq) map.getSource('coverage').setData(fc); })
      .catch((e) => notice.push(e.code === 'too_large' ? 'Zoom in to see mapper coverage.' : e.message)));
  }
  await Promise.all(jobs);
  if (my !== seq) return;
  $('notice').hidden = notice.length === 0;
  $('notice').textContent = notice.join(' ');
}

function onClick(map, e) {
  const pad = 6;
  const box = [[e.point.x - pad, e.point.y - pad], [e.point.x + pad, e.point.y + pad]];
  const hs = map.queryRenderedFeatures(box, { layers: ['hotspots'] });
  if (hs.length) { selectHotspot(map, hs[0].properties.address); return; }
  const layers = state.mode === 'mapper' ? ['coverage-fill', 'hex-fill'] : ['hex-fill'];
  const hx = map.queryRenderedFeatures(e.point, { layers });
  if (hx.length) selectHex(map, hx[0].properties.h3, hx[0]);
}

// ---- panels ----------------------------------------------------------------

function openPanel(html) {
  $('panel-body').innerHTML = html;
  $('panel').hidden = false;
  $('panel-body').querySelectorAll('[data-hotspot]').forEach((el) => el.addEventListener('click', () => selectHotspot(state.map, el.dataset.hotspot, true)));
  $('panel-body').querySelectorAll('[data-hex]').forEach((el) => el.addEventListener('click', () => selectHex(state.map, el.dataset.hex)));
}

function closePanel(map) {
  $('panel').hidden = true;
  state.selected = null;
  map.getSource('edges').setData(EMPTY);
  map.getSource('selected').setData(EMPTY);
  applyMode(map);
}

function verdict(valid, reason) {
  return valid ? '<span class="ok">✓ valid</span>' : `<span class="bad">✗ ${esc(reason)}</span><div class="why">${esc(reasonText(reason))}</div>`;
}

async function selectHotspot(map, addr, fly) {
  state.selected = addr;
  applyMode(map);
  let d, edges;
  try {
    [d, edges] = await Promise.all([api(`/api/v1/hotspots/${encodeURIComponent(addr)}`), api(`/api/v1/hotspots/${encodeURIComponent(addr)}/witnesses.geojson`)]);
  } catch (e) { openPanel(`<h2>Hotspot</h2><p class="bad">${esc(e.message)}</p>`); return; }
  map.getSource('edges').setData(edges);
  map.getSource('selected').setData(EMPTY);
  if (fly && d.located) map.flyTo({ center: [d.lng, d.lat], zoom: Math.max(map.getZoom(), 11) });
  const heardBy = edges.features.filter((f) => f.properties.direction === 'witnessed_by');
  const heard = edges.features.filter((f) => f.properties.direction === 'witnessed');
  const edgeRows = (list, key, nameKey) => list.map((f) => { const p = f.properties; return `<tr><td><span class="link" data-hotspot="${esc(p[key])}">${esc(p[nameKey] || short(p[key]))}</span></td><td>${fmt(p.rssi)}</td><td>${fmt(p.snr)}</td><td>${fmt(p.distance_m / 1000, 2)} km</td><td>${verdict(p.valid, p.reason)}</td></tr>`; }).join('');
  const beacons = (d.recent_beacons || []).map((b) => `<tr><td>${esc(ago(b.at))}</td><td>${(b.witnesses || []).length} (${(b.witnesses || []).filter((w) => w.valid).length} valid)</td><td>${fmt(b.units, 3)}</td><td>${verdict(b.valid, b.reason)}</td></tr>`).join('');
  const rewards = (d.rewards || []).slice().reverse().map((r) => `<tr><td>${r.epoch}</td><td>${r.beacon}</td><td>${r.witness}</td><td>${r.data}</td><td><b>${r.total}</b></td></tr>`).join('');
  const trust = d.trust ? `<h3>Trust</h3><pre class="mono">${esc(JSON.stringify(d.trust, null, 1))}</pre>` : '';
  openPanel(`
    <h2 data-testid="hotspot-name">${esc(d.name || short(d.address))}</h2>
    <div class="mono">${esc(d.address)}</div>
    <dl>
      <dt>Status</dt><dd><span class="badge ${d.online ? 'online' : 'offline'}">${d.online ? 'online' : 'offline'}</span> · last seen ${esc(ago(d.last_seen))}</dd>
      <dt>Owner</dt><dd class="mono">${esc(d.owner || '—')}</dd>
      <dt>Location</dt><dd>${d.located ? `<span class="link mono" data-hex="${esc(d.h3)}">${esc(d.h3)}</span><br>${fmt(d.lat, 5)}, ${fmt(d.lng, 5)}` : 'not asserted'}</dd>
      <dt>Antenna</dt><dd>${fmt(d.gain_dbi)} dBi · ${d.elevation_m} m</dd>
      <dt>Region</dt><dd>${esc(d.region || '—')}</dd>
      <dt>Reward scale</dt><dd>${fmt(d.reward_scale, 4)}</dd>
      <dt>Beacons</dt><dd>${d.beacons} (${d.valid_beacons} valid)</dd>
      <dt>Witnesses made</dt><dd>${d.witnesses} (${d.valid_witnesses} valid)</dd>
      <dt>Packets</dt><dd>${d.packets} · ${d.dc} DC</dd>
    </dl>
    <h3>Witnesses of its beacons (${heardBy.length})</h3>
    <table id="witness-table"><tr><th>Hotspot</th><th>RSSI</th><th>SNR</th><th>Dist.</th><th>Last verdict</th></tr>${edgeRows(heardBy, 'witness', 'witness_name') || '<tr><td colspan="5">none yet</td></tr>'}</table>
    <h3>Beacons it witnessed (${heard.length})</h3>
    <table><tr><th>Beaconer</th><th>RSSI</th><th>SNR</th><th>Dist.</th><th>Last verdict</th></tr>${edgeRows(heard, 'beaconer', 'beaconer_name') || '<tr><td colspan="5">none yet</td></tr>'}</table>
    <h3>Recent beacons</h3>
    <table><tr><th>When</th><th>Witnesses</th><th>Units</th><th>Verdict</th></tr>${beacons || '<tr><td colspan="4">none yet</td></tr>'}</table>
    <h3>Rewards per epoch <a href="/api/v1/hotspots/${encodeURIComponent(d.address)}/rewards.csv" download>CSV</a></h3>
    <table><tr><th>Epoch</th><th>Beacon</th><th>Witness</th><th>Data</th><th>Total</th></tr>${rewards || '<tr><td colspan="5">none yet</td></tr>'}</table>
    ${trust}`);
}

async function selectHex(map, h3, feature) {
  let d;
  try { d = await api(`/api/v1/hexes/${encodeURIComponent(h3)}`); } catch (e) { openPanel(`<h2>Hex ${esc(h3)}</h2><p>${esc(e.message)}</p>`); return; }
  if (feature) map.getSource('selected').setData({ type: 'FeatureCollection', features: [{ type: 'Feature', geometry: feature.geometry, properties: {} }] });
  map.getSource('edges').setData(EMPTY);
  const hs = (d.hotspot_list || []).map((h) => `<tr><td><span class="link" data-hotspot="${esc(h.address)}">${esc(h.name || short(h.address))}</span></td><td><span class="badge ${h.online ? 'online' : 'offline'}">${h.online ? 'online' : 'offline'}</span></td><td>${fmt(h.reward_scale, 3)}</td></tr>`).join('');
  const c = d.coverage;
  const cov = c ? `<dl><dt>Best RSSI</dt><dd>${fmt(c.best_rssi)} dBm (SNR ${fmt(c.best_snr)})</dd><dt>Samples</dt><dd>${c.samples} in ${c.cells} res-9 cells</dd><dt>First / last</dt><dd>${esc(ago(c.first_seen))} / ${esc(ago(c.last_seen))}</dd></dl>
    <table><tr><th>Heard by</th><th>RSSI</th><th>SNR</th><th>Samples</th></tr>${(c.hotspots || []).map((h) => `<tr><td><span class="link" data-hotspot="${esc(h.address)}">${esc(h.name || short(h.address))}</span></td><td>${fmt(h.rssi)}</td><td>${fmt(h.snr)}</td><td>${h.samples}</td></tr>`).join('')}</table>` : '<p>No mapper data here yet.</p>';
  openPanel(`
    <h2>Hex <span class="mono">${esc(d.h3)}</span></h2>
    <dl>
      <dt>Resolution</dt><dd>${d.res}${d.parent ? ` · parent <span class="link mono" data-hex="${esc(d.parent)}">${esc(d.parent)}</span>` : ''}</dd>
      <dt>Hotspots</dt><dd>${d.hotspots} (${d.active} active)</dd>
      <dt>Reward scale</dt><dd>${fmt(d.reward_scale, 4)}</dd>
      <dt>Valid witnesses</dt><dd>${d.valid_witnesses}</dd>
      <dt>Best witness RSSI</dt><dd>${fmt(d.best_rssi)} dBm</dd>
    </dl>
    <h3>Hotspots</h3><table><tr><th>Name</th><th>Status</th><th>Scale</th></tr>${hs || '<tr><td colspan="3">none</td></tr>'}</table>
    <h3>Mapper coverage</h3>${cov}`);
}

// ---- search ----------------------------------------------------------------

function setupSearch(map) {
  const input = $('search');
  const list = $('results');
  let t;
  const choose = (r) => {
    list.hidden = true;
    if (r.type === 'hotspot') selectHotspot(map, r.hotspot.address, true);
    else { map.flyTo({ center: [r.hex.lng, r.hex.lat], zoom: Math.max(4, Math.min(14, r.hex.res + 3)) }); selectHex(map, r.hex.h3); }
  };
  input.addEventListener('input', () => {
    clearTimeout(t);
    const q = input.value.trim();
    if (!q) { list.hidden = true; return; }
    t = setTimeout(async () => {
      let res;
      try { res = await api(`/api/v1/search?q=${encodeURIComponent(q)}&limit=10`); } catch (e) { return; }
      list.innerHTML = res.results.length ? res.results.map((r, i) => r.type === 'hotspot'
        ? `<li data-i="${i}">${esc(r.hotspot.name || short(r.hotspot.address))}<div class="sub">${esc(r.hotspot.address)}</div></li>`
        : `<li data-i="${i}">Hex ${esc(r.hex.h3)}<div class="sub">res ${r.hex.res} · ${r.hex.hotspots || 0} hotspots</div></li>`).join('') : '<li>No match</li>';
      list.hidden = false;
      list.querySelectorAll('li[data-i]').forEach((li) => li.addEventListener('click', () => choose(res.results[+li.dataset.i])));
      state.lastSearch = res.results;
    }, 150);
  });
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && state.lastSearch?.length) choose(state.lastSearch[0]); if (e.key === 'Escape') list.hidden = true; });
}

// ---- stats and live feed -----------------------------------------------

async function refreshStats() {
  try {
    const s = await api('/api/v1/stats');
    $('stats').textContent = `${s.hotspots} hotspots · ${s.online} online · ${s.counters.beacons} beacons · ${s.counters.valid_witnesses} valid witnesses · ${s.coverage_cells} mapped hexes · epoch ${s.counters.last_epoch}`;
  } catch (e) { $('stats').textContent = ''; }
}

function liveLine(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case 'beacon': return `beacon · ${esc(d.name || short(d.beaconer))} · ${d.witnesses} witnesses (${d.valid_witnesses} valid)`;
    case 'witness': return `witness · ${esc(d.witness_name || short(d.witness))} heard ${esc(d.beaconer_name || short(d.beaconer))} · ${fmt(d.rssi)} dBm · ${d.valid ? '✓' : `✗ ${esc(reasonText(d.reason))}`}`;
    case 'packet': return `packet · ${esc(d.name || short(d.hotspot))} · ${esc(d.dev_addr)} · ${fmt(d.rssi)} dBm · ${d.dc} DC`;
    case 'epoch': return `epoch ${d.epoch} closed · ${d.total || 0} paid`;
    case 'mapper': return `mapper · ${esc(d.dev_eui)} · heard by ${(d.hotspots || []).length}`;
    case 'state': return `${esc(d.name || short(d.hotspot))} is ${d.online ? 'online' : 'offline'}`;
    default: return esc(ev.type);
  }
}

function connectLive(map) {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/api/v1/live`);
  ws.onopen = () => $('live-state').classList.add('on');
  ws.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    const li = document.createElement('li');
    li.className = `t-${ev.type}`;
    li.innerHTML = liveLine(ev);
    const list = $('live-list');
    list.prepend(li);
    while (list.children.length > 40) list.lastChild.remove();
    state.liveCount = (state.liveCount || 0) + 1;
  };
  ws.onclose = () => { $('live-state').classList.remove('on'); setTimeout(() => connectLive(map), 3000); };
}

start();
