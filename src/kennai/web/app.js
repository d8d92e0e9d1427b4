// kennai web map: the region's vector tiles on MapLibre GL JS, all served by this server.
// No CDN, no online basemap, no glyph server: CJK labels use the local font
// (localIdeographFontFamily). window.kennai exposes the map and a ready flag for tests.
// In site mode (<body data-mode="site">, written by `kennai export-site`) the page reads
// local files instead of the API: tiles from PMTiles archives through the pmtiles protocol,
// tables from data/*.json; the register and plan upload, which need the server, are hidden.
"use strict";

const API = "/api/v1";
const SITE = document.body.dataset.mode === "site";
const local = (path) => new URL(path, window.location.href).href;
const TEXT = {
  ja: {
    lang_button: "English", layers: "レイヤ", plan: "第2層圏域の案", no_plan: "（表示しない）",
    register: "通いの場の登録", token: "トークン", who: "登録者", info: "情報",
    add_place: "地図をクリックして場所を追加", adding: "追加する地点をクリックしてください…",
    panel_hint: "地図の区域をクリックしてください。", name: "名称", category: "種別",
    address: "住所", save: "登録", cancel: "取消", saved: "登録しました", layer: "レイヤ",
    need_token: "トークンと登録者を入れてください", failed: "失敗しました",
    elementary: "小学校区", junior_high: "中学校区", neighbourhood: "自治会", plans: "第2層の案",
    places: "通いの場", register_places: "登録簿の場所", candidates: "候補地（公共施設）",
    population: "小地域人口", roads: "道路", buildings: "建物", district: "区域",
    population_total: "人口", population_65: "65歳以上",
    upload: "案をアップロード", upload_hint: "GeoJSON または シェープファイルの ZIP",
    name_column: "名称の列（任意）", check_splits: "分断を調べる", units: "分断を調べる区域",
    split_units: "分断される区域", no_splits: "分断される区域はありません", checking: "調べています…",
    pieces: "断片", sliver: "細片（数えない）", access: "徒歩時間（分）", gaps: "徒歩圏外（人口の多い所）",
    coverage: "徒歩圏カバー率", threshold: "しきい値", share: "人口割合", share_65: "65歳以上の割合",
    unreachable: "通いの場のない道の先の人口",
    base_network: "割合はネットワーク上の住民（{share}）のうちの数字です",
    base_straight: "直線距離のみ（歩行ネットワークなし）",
    no_network: "ネットワーク外の人口", nearest: "最寄りの通いの場", walk_min: "徒歩（分）",
    walk_m: "道のり（m）", district_gaps: "この区域の徒歩圏外", none: "なし",
    district_page: "区域のページ", treasure_pdf: "宝物マップ（PDF）",
  },
  en: {
    lang_button: "日本語", layers: "Layers", plan: "Layer-2 plan", no_plan: "(none)",
    register: "Gathering-place register", token: "Token", who: "Your name", info: "Details",
    add_place: "Click the map to add a place", adding: "Click where the place is…",
    panel_hint: "Click a district on the map.", name: "Name", category: "Category",
    address: "Address", save: "Save", cancel: "Cancel", saved: "Saved", layer: "Layer",
    need_token: "Enter the token and your name", failed: "Failed",
    elementary: "Elementary school districts", junior_high: "Junior-high school districts",
    neighbourhood: "Neighbourhood associations", plans: "Layer-2 plans",
    places: "Gathering places", register_places: "Register places",
    candidates: "Candidate sites", population: "Census small areas", roads: "Roads",
    buildings: "Buildings", district: "District", population_total: "Population",
    population_65: "Aged 65+",
    upload: "Upload a plan", upload_hint: "GeoJSON or a zipped shapefile",
    name_column: "Name column (optional)", check_splits: "Check splits", units: "Units to check",
    split_units: "Split units", no_splits: "No unit is split", checking: "Checking…",
    pieces: "Pieces", sliver: "Sliver (not counted)", access: "Walking minutes",
    gaps: "Beyond walking distance (populated)", coverage: "Walkable coverage",
    threshold: "Threshold", share: "Population share", share_65: "Share of 65+",
    unreachable: "Population on streets with no place",
    base_network: "Shares are of the residents on the network ({share})",
    base_straight: "Straight-line only (no walk network)",
    no_network: "Population off the network", nearest: "Nearest gathering place",
    walk_min: "Walk (min)", walk_m: "Walk (m)", district_gaps: "Gaps in this district", none: "none",
    district_page: "District page", treasure_pdf: "Treasure map (PDF)",
  },
};
const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
                 "#9a6324", "#469990", "#800000", "#808000", "#000075"];
// Switchable groups: which style layers each one shows, and whether it starts visible.
const GROUPS = [
  ["elementary", ["elementary-fill", "elementary-line", "elementary-label"], true],
  ["junior_high", ["junior_high-line"], true],
  ["neighbourhood", ["neighbourhood-fill", "neighbourhood-line"], false],
  ["plans", ["plans-line"], false],
  ["places", ["places-circle"], true],
  ["register_places", ["register-circle"], true],
  ["candidates", ["candidates-circle"], false],
  ["population", ["population-fill"], false],
  ["roads", ["roads-major", "roads-minor", "roads-path"], true],
  ["buildings", ["buildings-fill"], true],
  ["access", ["access-raster"], false],
  ["gaps", ["gaps-fill", "gaps-line"], false],
];
const SPLIT_COLOUR = "#d50000";
const EMPTY = { type: "FeatureCollection", features: [] };
const CLICKABLE = ["places-circle", "register-circle", "candidates-circle", "neighbourhood-fill",
                   "elementary-fill", "plans-fill", "population-fill"];

const state = { lang: localStorage.getItem("kennai-lang") || "ja", region: null, adding: false,
                selected: null };
window.kennai = { ready: false, map: null, state };

const $ = (id) => document.getElementById(id);
const tr = (key) => TEXT[state.lang][key] || key;
// Every element that shows data is built here: text goes in as text nodes (never parsed as
// HTML), attributes through setAttribute, so a name such as <img onerror=…> or ${…} stays text.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "background") el.style.background = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...nodes(children));
  return el;
}
const nodes = (children) => children.flat(Infinity)
  .filter((c) => c !== null && c !== undefined && c !== false && c !== "")
  .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
const fill = (el, ...children) => { el.replaceChildren(...nodes(children)); return el; };

async function getJSON(url, options) {
  const res = await fetch(url, options);
  const body = res.status === 204 ? null : await res.json();
  if (!res.ok) {
    const msg = body && (state.lang === "ja" ? body.message_ja : body.message);
    const detail = body && body.detail && (body.detail.message_ja || JSON.stringify(body.detail));
    throw new Error(msg || detail || `HTTP ${res.status}`);
  }
  return body;
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = tr(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-html]")) {
    if (!state.selected) el.textContent = tr(el.dataset.i18nHtml);
  }
  const r = state.region;
  if (r) $("title").textContent = `圏内 kennai — ${state.lang === "en" && r.title_en ? r.title_en : r.title}`;
  if (state.selected) showFeature(state.selected);
  else if (state.report && $("panel").dataset.layer === "splits") showReport(state.report.report, state.report.title);
  if (state.legend) showLegend(state.legend);
}

function categoryColours(categories) {
  const expr = ["match", ["get", "category"]];
  categories.forEach((c, i) => expr.push(c, PALETTE[i % PALETTE.length]));
  expr.push("#555555");
  return categories.length ? expr : "#e6194b";
}

function style(region, categories, sourceLayers, legend) {
  const src = "kennai";
  const vis = (group) => (GROUPS.find((g) => g[0] === group)[2] ? "visible" : "none");
  const layer = (id, group, type, sourceLayer, paint, extra = {}) => ({
    id, type, source: src, "source-layer": sourceLayer, paint,
    layout: { visibility: vis(group), ...(extra.layout || {}) },
    ...(extra.filter ? { filter: extra.filter } : {}),
  });
  return {
    version: 8,
    // No glyph server: CJK labels are drawn from the local font (localIdeographFontFamily).
    glyphs: `${SITE ? local("static/glyphs/") : "/static/glyphs/"}{fontstack}/{range}.pbf`,
    sources: {
      kennai: SITE ? { type: "vector", url: `pmtiles://${local("tiles/region.pmtiles")}` }
        : { type: "vector", url: `${API}/regions/${region.name}/tiles.json` },
      register: { type: "geojson", data: SITE ? EMPTY : `${API}/regions/${region.name}/register/places` },
      pieces: { type: "geojson", data: EMPTY },
      "district-gaps": { type: "geojson", data: EMPTY },
      ...(legend ? { access: SITE
        ? { type: "raster", tileSize: 256, url: `pmtiles://${local("tiles/access.pmtiles")}` }
        : { type: "raster", tileSize: 256, bounds: legend.bounds, minzoom: 0, maxzoom: 18,
            tiles: [`${API}/regions/${region.name}/access/tiles/{z}/{x}/{y}.png`] } } : {}),
    },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#f4f1ea" } },
      ...(legend ? [{ id: "access-raster", type: "raster", source: "access",
                      layout: { visibility: vis("access") }, paint: { "raster-opacity": 1 } }] : []),
      layer("population-fill", "population", "fill", "population",
            { "fill-color": ["interpolate", ["linear"], ["coalesce", ["get", "population"], 0],
                             0, "#fff7ec", 3000, "#fc8d59", 8000, "#b30000"],
              "fill-opacity": 0.5 }),
      layer("elementary-fill", "elementary", "fill", "elementary",
            { "fill-color": ["case", ["boolean", ["feature-state", "selected"], false],
                             "#ffd54f", "#a5d6a7"], "fill-opacity": 0.45 }),
      layer("neighbourhood-fill", "neighbourhood", "fill", "neighbourhood",
            { "fill-color": "#90caf9", "fill-opacity": 0.3 }),
      layer("buildings-fill", "buildings", "fill", "buildings",
            { "fill-color": "#c9c2b8", "fill-outline-color": "#a79f95" }),
      layer("roads-path", "roads", "line", "roads", { "line-color": "#ffffff", "line-width": 1 },
            { filter: ["==", ["get", "class"], "path"] }),
      layer("roads-minor", "roads", "line", "roads", { "line-color": "#ffffff", "line-width": 2 },
            { filter: ["in", ["get", "class"], ["literal", ["medium", "minor"]]] }),
      layer("roads-major", "roads", "line", "roads", { "line-color": "#f9c74f", "line-width": 3 },
            { filter: ["==", ["get", "class"], "major"] }),
      layer("neighbourhood-line", "neighbourhood", "line", "neighbourhood",
            { "line-color": "#1565c0", "line-width": 1, "line-dasharray": [2, 2] }),
      layer("elementary-line", "elementary", "line", "elementary",
            { "line-color": "#2e7d32", "line-width": 2 }),
      layer("junior_high-line", "junior_high", "line", "junior_high",
            { "line-color": "#6a1b9a", "line-width": 3, "line-dasharray": [4, 2] }),
      { id: "plans-fill", type: "fill", source: src, "source-layer": "plans",
        paint: { "fill-color": "#ff7043", "fill-opacity": 0.15 },
        layout: { visibility: "none" }, filter: ["==", ["get", "plan"], ""] },
      layer("plans-line", "plans", "line", "plans", { "line-color": "#d84315", "line-width": 3 },
            { filter: ["==", ["get", "plan"], ""] }),
      // Far (purple) apart from unreachable: people on streets that lead to no place (grey).
      layer("gaps-fill", "gaps", "fill", "gaps", {
        "fill-color": ["match", ["get", "reach"], "unreachable", "#616161", "#6a1b9a"],
        "fill-opacity": 0.35 }),
      layer("gaps-line", "gaps", "line", "gaps", { "line-color": "#4a148c", "line-width": 1 }),
      // Split pieces of the selected or uploaded plan: counted pieces of split units strong,
      // slivers (not counted) only outlined.
      { id: "pieces-split", type: "fill", source: "pieces",
        filter: ["all", ["==", ["get", "counted"], true], ["==", ["get", "split"], true]],
        paint: { "fill-color": SPLIT_COLOUR, "fill-opacity": 0.6 } },
      { id: "pieces-line", type: "line", source: "pieces", filter: ["==", ["get", "split"], true],
        paint: { "line-color": "#7f0000", "line-width": 1.5 } },
      { id: "pieces-sliver", type: "line", source: "pieces", filter: ["==", ["get", "counted"], false],
        paint: { "line-color": "#9e9e9e", "line-width": 1, "line-dasharray": [1, 1] } },
      { id: "district-gaps-fill", type: "fill", source: "district-gaps",
        paint: { "fill-color": ["match", ["get", "reach"], "unreachable", "#616161", "#6a1b9a"],
                 "fill-opacity": 0.5 } },
      { id: "district-gaps-line", type: "line", source: "district-gaps",
        paint: { "line-color": "#4a148c", "line-width": 2 } },
      layer("candidates-circle", "candidates", "circle", "candidates",
            { "circle-radius": 4, "circle-color": "#757575", "circle-stroke-color": "#fff",
              "circle-stroke-width": 1 }),
      layer("places-circle", "places", "circle", "places",
            { "circle-radius": 6, "circle-color": categoryColours(categories),
              "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 }),
      { id: "register-circle", type: "circle", source: "register",
        layout: { visibility: vis("register_places") },
        paint: { "circle-radius": 7, "circle-color": "#000000", "circle-stroke-color": "#ffeb3b",
                 "circle-stroke-width": 2 } },
      layer("elementary-label", "elementary", "symbol", "district_labels",
            { "text-color": "#1b5e20", "text-halo-color": "#fff", "text-halo-width": 1.5 },
            { layout: { "text-field": ["get", "name"], "text-size": 13,
                        "text-font": ["sans-serif"] },
              filter: ["==", ["get", "kind"], "elementary"] }),
    ].filter((l) => !l["source-layer"] || sourceLayers.has(l["source-layer"])),
  };
}

function buildSwitcher(region, sourceLayers) {
  const have = new Set(region.layers.map((l) => l.kind));
  const box = $("layer-switcher");
  box.replaceChildren();
  for (const [group, ids, on] of GROUPS) {
    const known = group === "register_places" || (group === "roads" && region.network) ||
      (group === "plans" && region.plans.length) || (group === "access" && state.legend) ||
      (group === "gaps" && sourceLayers.has("gaps")) || have.has(group);
    if (!known) continue;
    const label = h("label", {}, h("input", { type: "checkbox", id: `toggle-${group}`, checked: on }),
      " ", h("span", { "data-i18n": group }, tr(group)));
    label.querySelector("input").addEventListener("change", (ev) => {
      for (const id of ids) {
        if (window.kennai.map.getLayer(id)) {
          window.kennai.map.setLayoutProperty(id, "visibility", ev.target.checked ? "visible" : "none");
        }
      }
    });
    box.appendChild(label);
  }
}

function buildPlanSelect(region) {
  const sel = $("plan-select");
  for (const p of region.plans) {
    const opt = document.createElement("option");
    opt.value = p.name;
    opt.textContent = p.title || p.name;
    sel.appendChild(opt);
  }
  if (!region.plans.length) sel.hidden = true;
  const units = $("units-select");
  for (const kind of ["elementary", "junior_high", "neighbourhood"]) {
    if (!region.layers.some((l) => l.kind === kind)) continue;
    const opt = document.createElement("option");
    opt.value = kind;
    opt.dataset.i18n = kind;
    opt.textContent = tr(kind);
    units.appendChild(opt);
  }
  units.addEventListener("change", () => { if (sel.value) showPlanSplits(sel.value); });
  $("upload-form").addEventListener("submit", (ev) => { ev.preventDefault(); uploadPlan(); });
  sel.addEventListener("change", () => {
    showPlanSplits(sel.value);
    const map = window.kennai.map;
    const filter = ["==", ["get", "plan"], sel.value];
    for (const id of ["plans-line", "plans-fill"]) {
      map.setFilter(id, filter);
      map.setLayoutProperty(id, "visibility", sel.value ? "visible" : "none");
    }
    const toggle = $("toggle-plans");
    if (toggle) toggle.checked = Boolean(sel.value);
  });
}

async function showPlanSplits(plan) {
  const map = window.kennai.map;
  if (!plan) { map.getSource("pieces").setData(EMPTY); return; }
  const units = $("units-select").value || "elementary";
  try {
    if (SITE) { showReport(await siteSplits(plan)); return; }
    const report = await getJSON(`${API}/regions/${state.region.name}/plans/` +
      `${encodeURIComponent(plan)}/splits?units=${units}&pieces=true`);
    showReport(report);
  } catch (err) {
    fill($("panel"), h("p", { class: "error" }, err.message));
  }
}

class SiteSource {
  // A pmtiles source for any static server: HTTP range requests where the server answers them
  // (206), else the whole archive fetched once and sliced (python -m http.server answers 200).
  constructor(url) { this.url = url; this.whole = null; }
  getKey() { return this.url; }
  async getBytes(offset, length, signal) {
    if (!this.whole) {
      const res = await fetch(this.url, { signal,
        headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${this.url}`);
      if (res.status === 206) return { data: await res.arrayBuffer() };
      if (!this.whole) this.whole = res.arrayBuffer().catch((err) => { this.whole = null; throw err; });
    }
    const buf = await this.whole;
    return { data: buf.slice(offset, offset + length) };
  }
}

function addSiteProtocol() {
  const protocol = new pmtiles.Protocol();
  for (const name of ["region", "access"]) {
    protocol.add(new pmtiles.PMTiles(new SiteSource(local(`tiles/${name}.pmtiles`))));
  }
  maplibregl.addProtocol("pmtiles", protocol.tile);
}

async function siteSplits(plan) {
  // The exported pieces of a plan, shaped as the split report the panel shows.
  const pieces = await getJSON(local(`data/splits/${encodeURIComponent(plan)}.json`));
  const units = new Map();
  for (const f of pieces.features) {
    const u = units.get(f.properties.unit) || { name: f.properties.unit, split: false, n_pieces: 0 };
    u.split = u.split || Boolean(f.properties.split);
    if (f.properties.counted) u.n_pieces += 1;
    units.set(u.name, u);
  }
  const layer = (pieces.features[0] || { properties: {} }).properties.units_layer || "elementary";
  return { plan, units_layer: layer, units: [...units.values()], pieces_geojson: pieces };
}

async function siteCoverage(layer) {
  // data/coverage/<layer>.json: names (their order numbers the pages), coverage and gaps by name.
  state.siteCoverage = state.siteCoverage || {};
  if (!state.siteCoverage[layer]) {
    state.siteCoverage[layer] = await getJSON(local(`data/coverage/${encodeURIComponent(layer)}.json`));
  }
  return state.siteCoverage[layer];
}

function siteLinks(layer, name, index) {
  const n = index.names.indexOf(name) + 1;
  if (!n) return null;
  const folder = encodeURIComponent(layer);
  const pdf = (state.region.map_layers || []).includes(layer)
    ? [" · ", h("a", { id: "district-pdf", href: `maps/${folder}/${n}.pdf` }, tr("treasure_pdf"))] : [];
  return () => h("p", { id: "district-links" },
    h("a", { id: "district-page", href: `districts/${folder}/${n}.html` }, tr("district_page")), pdf);
}

async function uploadPlan() {
  const input = $("plan-file");
  const status = $("upload-status");
  if (!input.files.length) return;
  const body = new FormData();
  body.append("file", input.files[0]);
  const params = new URLSearchParams({ units: $("units-select").value || "elementary", pieces: "true" });
  if ($("name-column").value.trim()) params.set("name_column", $("name-column").value.trim());
  status.textContent = tr("checking");
  status.className = "";
  try {
    // The token goes along when there is one: a server reachable from other machines wants it.
    const token = $("token").value.trim();
    const report = await getJSON(`${API}/regions/${encodeURIComponent(state.region.name)}` +
      `/splits/upload?${params}`,
      { method: "POST", body, headers: token ? { Authorization: `Bearer ${token}` } : {} });
    status.textContent = "";
    showReport(report, input.files[0].name);
  } catch (err) {
    status.textContent = `${tr("failed")}: ${err.message}`;
    status.className = "error";
  }
}

function showReport(report, title) {
  // The split report in the panel (split units listed) and its pieces on the map.
  state.selected = null;
  state.report = { report, title };
  window.kennai.map.getSource("pieces").setData(report.pieces_geojson || EMPTY);
  const split = report.units.filter((u) => u.split);
  const panel = $("panel");
  panel.dataset.layer = "splits";
  panel.dataset.name = title || report.plan;
  panel.dataset.splitUnits = split.map((u) => u.name).join(",");
  const items = split.map((u) => h("li", {}, u.name, " ",
    h("small", {}, `(${tr("pieces")}: ${u.n_pieces}`, u.main_area ? ` → ${u.main_area}` : "", ")")));
  fill(panel, h("div", { class: "name" }, title || report.plan),
    h("p", {}, h("span", { class: "swatch", background: SPLIT_COLOUR }), tr("split_units"),
      ` (${tr(report.units_layer)}): ${split.length}`),
    split.length ? h("ul", { id: "split-units" }, items) : h("p", {}, tr("no_splits")));
}

function pct(v) { return v === null || v === undefined ? "—" : `${(100 * v).toFixed(1)}%`; }

function baseNote(row) {
  // What the shares are of (kennai.access.coverage.base_note says the same in the CLI).
  if (row.method === "straight_line") return tr("base_straight");
  const share = row.base_share;
  if (share === null || share === undefined) return "";
  return tr("base_network").replace("{share}", pct(share));
}

function coverageNodes(row) {
  const fmt = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("ja-JP"));
  const labels = Object.keys(row.coverage || {});
  const head = h("tr", {}, h("th", {}, tr("threshold")), h("th", {}, tr("share")),
    h("th", {}, tr("share_65")));
  const body = labels.map((l) => h("tr", {}, h("td", {}, l), h("td", {}, pct(row.coverage[l])),
    h("td", {}, pct((row.coverage_65plus || {})[l]))));
  return [h("h3", {}, tr("coverage")), rows([
    [tr("population_total"), fmt(row.population)], [tr("population_65"), fmt(row.population_65plus)],
    [tr("no_network"), fmt(row.no_network_population)],
    [tr("unreachable"), fmt(row.unreachable_population)],
  ]), h("p", { id: "coverage-base" }, baseNote(row)), h("table", { id: "coverage-table" }, head, body)];
}

async function showCoverage(layer, name) {
  // Coverage table and gaps of one district, from the stored access results.
  const r = state.region.name;
  const q = `layer=${encodeURIComponent(layer)}&district=${encodeURIComponent(name)}`;
  try {
    if (SITE) {
      const index = await siteCoverage(layer);
      const gaps = index.gaps[name] || EMPTY;
      if (!state.selected || state.selected.properties.name !== name || !index.coverage[name]) return;
      state.coverage = { layer, name, row: index.coverage[name], gaps: gaps.features.length,
                         links: siteLinks(layer, name, index) };
      window.kennai.map.getSource("district-gaps").setData(gaps);
      renderCoverage();
      return;
    }
    const [rowsOut, gaps] = await Promise.all([
      getJSON(`${API}/regions/${r}/access/coverage?${q}${window.kennai.workbench.coverageQuery()}`),
      getJSON(`${API}/regions/${r}/access/gaps?${q}&threshold=500`)]);
    if (!state.selected || state.selected.properties.name !== name) return;
    state.coverage = { layer, name, row: rowsOut[0], gaps: gaps.numberMatched };
    window.kennai.map.getSource("district-gaps").setData(gaps);
    renderCoverage();
  } catch (err) {
    $("panel").append(h("p", { class: "error" }, err.message));
  }
}

function renderCoverage() {
  const c = state.coverage;
  if (!c || !state.selected || state.selected.properties.name !== c.name) return;
  $("panel").appendChild(h("div", { id: "coverage" }, coverageNodes(c.row),
    h("p", {}, `${tr("district_gaps")}: ${c.gaps}`), c.links ? c.links() : null));
}

async function showNearest(lngLat) {
  const r = state.region.name;
  const res = await getJSON(`${API}/regions/${r}/access/nearest?lon=${lngLat.lng}&lat=${lngLat.lat}`);
  state.selected = null;
  const panel = $("panel");
  panel.dataset.layer = "nearest";
  panel.dataset.name = res.place ? res.place.name || res.place.place_id : "";
  fill(panel, h("div", { class: "name" }, tr("nearest")), rows([
    [tr("name"), res.place ? res.place.name : tr("none")],
    [tr("walk_min"), res.time_min],
    [tr("walk_m"), res.distance_m],
  ]));
}

function showLegend(legend) {
  const box = $("access-legend");
  fill(box, legend.classes.map((c) => h("div", {}, h("span", { class: "swatch", background: c.colour }),
    state.lang === "en" ? c.label_en : c.label)));
  $("access-section").hidden = false;
}

function rows(pairs) {
  return h("table", {}, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))));
}

function showFeature(f) {
  state.selected = f;
  const layer = f.sourceLayer || (f.source === "register" ? "register_places" : f.layer.id);
  const p = f.properties;
  const fmt = (v) => (typeof v === "number" ? v.toLocaleString("ja-JP") : v);
  const panel = $("panel");
  panel.dataset.layer = layer;
  panel.dataset.name = p.name || "";
  fill(panel, h("div", { class: "name" }, p.name), rows([
    [tr("layer"), tr(layer)],
    [tr("category"), p.category], [tr("address"), p.address],
    [tr("plan"), p.plan && ((state.region.plans.find((x) => x.name === p.plan) || {}).title || p.plan)],
    [tr("population_total"), fmt(p.population)], [tr("population_65"), fmt(p.population_65plus)],
  ]));
  if (layer === "register_places") window.kennai.workbench.onPlace(f);
  renderCoverage();
}

function selectDistrict(f) {
  const map = window.kennai.map;
  if (state.highlight !== undefined) {
    map.setFeatureState({ source: "kennai", sourceLayer: "elementary", id: state.highlight },
                        { selected: false });
    state.highlight = undefined;
  }
  if (f.sourceLayer === "elementary" && f.id !== undefined) {
    map.setFeatureState({ source: "kennai", sourceLayer: "elementary", id: f.id }, { selected: true });
    state.highlight = f.id;
  }
}

async function main() {
  applyLanguage();
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "ja" ? "en" : "ja";
    localStorage.setItem("kennai-lang", state.lang);
    applyLanguage();
  });
  $("token").value = sessionStorage.getItem("kennai-token") || "";
  $("token").addEventListener("change", () => sessionStorage.setItem("kennai-token", $("token").value));
  let region, places, vectorLayers;
  if (SITE) {
    addSiteProtocol();
    for (const id of ["register-section", "upload-form", "compare-form", "suggest-section",
                      "weekly-toggle"]) $(id).hidden = true;
    region = await getJSON(local("data/region.json"));
    places = await getJSON(local("data/places.geojson"));
    vectorLayers = region.vector_layers;
    state.legend = region.legend;
  } else {
    [region] = await getJSON(`${API}/regions`);
    const hasPlaces = region.layers.some((l) => l.kind === "places");
    places = hasPlaces
      ? await getJSON(`${API}/regions/${region.name}/layers/places?limit=5000`) : { features: [] };
    vectorLayers = (await getJSON(`${API}/regions/${region.name}/tiles.json`)).vector_layers;
    state.legend = await getJSON(`${API}/regions/${region.name}/access/legend`).catch(() => null);
  }
  state.region = region;
  const sourceLayers = new Set(vectorLayers.map((l) => l.id));
  const categories = [...new Set(places.features.map((f) => f.properties.category).filter(Boolean))];
  $("attribution").textContent = region.attribution.join(" / ");
  const map = new maplibregl.Map({
    container: "map", style: style(region, categories, sourceLayers, state.legend), bounds: region.bounds,
    fitBoundsOptions: { padding: 20 }, localIdeographFontFamily: "'Noto Sans CJK JP', sans-serif",
    attributionControl: false, preserveDrawingBuffer: true,
  });
  window.kennai.map = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  buildSwitcher(region, sourceLayers);
  buildPlanSelect(region);
  applyLanguage();
  $("add-place").addEventListener("click", () => {
    state.adding = !state.adding;
    document.body.classList.toggle("adding", state.adding);
    $("register-status").textContent = state.adding ? tr("adding") : "";
  });
  map.on("click", (ev) => {
    if (state.adding) {
      state.adding = false;
      document.body.classList.remove("adding");
      window.kennai.workbench.onAddPlace(ev.lngLat);
      return;
    }
    const layers = CLICKABLE.filter((id) => map.getLayer(id) &&
      map.getLayoutProperty(id, "visibility") !== "none");
    const hits = map.queryRenderedFeatures(ev.point, { layers });
    if (!hits.length) {
      if (state.legend && !SITE) showNearest(ev.lngLat).catch(() => {});
      return;
    }
    const f = CLICKABLE.map((id) => hits.find((h) => h.layer.id === id)).find(Boolean);
    selectDistrict(f);
    state.coverage = null;
    if (map.getSource("district-gaps")) map.getSource("district-gaps").setData(EMPTY);
    showFeature(f);
    const districtLayers = ["elementary", "junior_high", "neighbourhood"];
    if (state.legend && districtLayers.includes(f.sourceLayer) && f.properties.name) {
      showCoverage(f.sourceLayer, f.properties.name);
    }
  });
  map.once("load", () => {
    window.kennai.workbench.onMapLoad(map, categories, sourceLayers);
    map.once("idle", () => { window.kennai.ready = true; });
  });
}

main().catch((err) => {
  fill($("panel"), h("p", { class: "error" }, err.message));
  window.kennai.error = String(err);
});
