// The coordinator's workbench on the web map (loaded after app.js, whose helpers it uses:
// h, fill, getJSON, tr, $, state, API, SITE): the register with every field of a 通いの場
// (add by a click or an address, edit, retire, history), 「更新中…」 while the server rebuilds,
// coverage by places open at least weekly, site suggestions, the basemap layers, a legend, and
// two plans compared side by side. Data go into the page as text nodes only (see h()).
"use strict";

Object.assign(TEXT.ja, {
  weekly: "週1回以上の場所だけで数える", updating: "更新中…", updated: "最新の結果です",
  address_search: "住所から探す", find: "探す", weekdays: "曜日", start_time: "開始",
  end_time: "終了", frequency: "頻度", audience: "対象", fee: "参加費", activity: "活動内容",
  contact: "連絡先", note: "備考", edit: "編集", retire: "廃止", history: "履歴",
  retire_reason: "廃止の理由", retired: "廃止しました", add: "追加", edit_done: "変更しました",
  suggest: "新しい通いの場の候補", suggest_button: "候補を表示", suggest_region: "（市全体）",
  added_people: "増える住民", added_65: "うち65歳以上", within: "道のり", kind: "種類",
  legend: "凡例", basemap: "背景地図（水面・鉄道・地名）", compare: "案を比べる",
  compare_button: "比べる", areas: "圏域", units_split: "分断区域", effective: "実効分断数",
  pop_split: "分断区域の人口", save_plan: "案として保存", plan_name: "案の名前（半角英小文字）",
  plan_title: "表示名", plan_saved: "保存しました", action_add: "追加", action_edit: "編集",
  action_retire: "廃止", far: "徒歩圏外（遠い）", unreachable_gap: "通いの場のない道の先",
  suggestion: "候補地", register_weekly: "登録簿（週1回以上）", register_other: "登録簿（その他）",
  upload_hint: "GeoJSON・シェープファイルの ZIP・割当表（CSV / Excel: 単位 → 圏域）",
});
Object.assign(TEXT.en, {
  weekly: "Count only places open weekly or more", updating: "Updating…", updated: "Up to date",
  address_search: "Find by address", find: "Find", weekdays: "Weekdays", start_time: "Start",
  end_time: "End", frequency: "Frequency", audience: "Who may come", fee: "Fee",
  activity: "Activity", contact: "Contact", note: "Note", edit: "Edit", retire: "Retire",
  history: "History", retire_reason: "Why it is retired", retired: "Retired", add: "Add",
  edit_done: "Changed", suggest: "Sites for a new place", suggest_button: "Show suggestions",
  suggest_region: "(whole city)", added_people: "Residents added", added_65: "of them 65+",
  within: "Within", kind: "Kind", legend: "Legend", basemap: "Basemap (water, rail, names)",
  compare: "Compare plans", compare_button: "Compare", areas: "Areas", units_split: "Units split",
  effective: "Effective splits", pop_split: "Pop. in split units", save_plan: "Save as a plan",
  plan_name: "Plan name (a-z, 0-9, -)", plan_title: "Title", plan_saved: "Saved",
  action_add: "added", action_edit: "edited", action_retire: "retired", far: "Beyond reach (far)",
  unreachable_gap: "On streets with no place", suggestion: "Suggested site",
  register_weekly: "Register (weekly or more)", register_other: "Register (other)",
  upload_hint: "GeoJSON, a zipped shapefile or an assignment table (CSV / Excel: unit → area)",
});

const WEEKDAY_CHARS = ["月", "火", "水", "木", "金", "土", "日"];
const FREQUENCIES = ["週1回以上", "月1–3回", "不定期"];
const PLACE_FIELDS = ["category", "address", "audience", "fee", "activity", "contact", "note"];
const wb = { weekly: false, updating: false, requested: 0, done: 0, hideTimer: 0 };

const regionUrl = (path) => `${API}/regions/${state.region.name}${path}`;
const token = () => $("token").value.trim();
const who = () => $("who").value.trim();
const idempotencyKey = () => (crypto.randomUUID ? crypto.randomUUID()
  : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

function writeHeaders() {
  return { "Content-Type": "application/json", Authorization: `Bearer ${token()}`,
           "Idempotency-Key": idempotencyKey() };
}

function say(text, error = false) {
  const status = $("register-status");
  status.textContent = text;
  status.className = error ? "error" : "";
}

// -- 「更新中…」: the server rebuilds after every write; the page follows it ----------------
// Every write asks for one more update; the banner's data-done says how many have been seen
// through, so a script (or a test) can wait for *its* write rather than an earlier one.
async function followUpdates() {
  wb.requested += 1;
  const banner = $("update-status");
  clearTimeout(wb.hideTimer); // an earlier update's timer must not hide this one
  banner.hidden = false;
  banner.className = "";
  banner.textContent = tr("updating");
  banner.dataset.state = "updating";
  if (wb.updating) return; // the running loop sees the new request and polls once more
  wb.updating = true;
  try {
    while (wb.done < wb.requested) {
      const target = wb.requested;
      let status;
      for (;;) {
        status = await getJSON(`${API}/status`);
        if (!status.updating) break;
        await new Promise((ok) => setTimeout(ok, 800));
      }
      banner.textContent = status.last_error ? `${tr("failed")}: ${status.last_error}` : tr("updated");
      banner.className = status.last_error ? "error" : "";
      refreshData();
      wb.done = target;
    }
  } catch (err) {
    banner.textContent = `${tr("failed")}: ${err.message}`;
    banner.className = "error";
  } finally {
    wb.updating = false;
    wb.done = wb.requested;
    banner.dataset.state = "done";
    banner.dataset.done = String(wb.done);
    wb.hideTimer = setTimeout(() => { banner.hidden = true; }, 2500);
  }
}

function refreshData() {
  const map = window.kennai.map;
  const stamp = Date.now();
  map.getSource("register").setData(regionUrl(`/register/places?t=${stamp}`));
  const tiles = map.getSource("kennai");
  if (tiles && tiles.setUrl) tiles.setUrl(regionUrl(`/tiles.json?t=${stamp}`));
  if (state.selected && state.coverage) showCoverage(state.coverage.layer, state.coverage.name);
}

// -- the place form: add (click or address) and edit ---------------------------------------
function placeForm(lngLat, place, onSaved) {
  const input = (name, attrs = {}) => h("input", { name, maxlength: 2000, value: place?.[name] ?? "",
                                                    ...attrs });
  const days = new Set((place?.weekdays || "").split(",").filter(Boolean));
  const form = h("form", { id: "place-form" },
    h("label", {}, tr("name"), " ", input("name", { required: true })),
    h("label", {}, tr("category"), " ", input("category")),
    h("label", {}, tr("address"), " ", input("address")),
    h("fieldset", { id: "weekdays" }, h("legend", {}, tr("weekdays")),
      WEEKDAY_CHARS.map((d) => h("label", { class: "day" },
        h("input", { type: "checkbox", name: "weekday", value: d, checked: days.has(d) }), d))),
    h("label", {}, tr("start_time"), " ", input("start_time", { type: "time" })),
    h("label", {}, tr("end_time"), " ", input("end_time", { type: "time" })),
    h("label", {}, tr("frequency"), " ", h("select", { name: "frequency" },
      h("option", { value: "" }, "—"),
      FREQUENCIES.map((f) => h("option", { value: f, selected: place?.frequency === f }, f)))),
    ["audience", "fee", "activity", "contact", "note"].map((k) => h("label", {}, tr(k), " ", input(k))),
    h("p", { class: "where" }, `${lngLat.lng.toFixed(6)}, ${lngLat.lat.toFixed(6)}`),
    h("button", { type: "submit", id: "place-save" }, tr("save")), " ",
    h("button", { type: "button", id: "place-cancel" }, tr("cancel")),
    h("p", { id: "place-error", class: "error", role: "alert" }));
  form.querySelector("#place-cancel").onclick = () => fill($("panel"), tr("panel_hint"));
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const save = form.querySelector("#place-save");
    if (save.disabled) return; // a second click while saving changes nothing
    save.disabled = true;
    const data = new FormData(form);
    const body = { by: who() };
    for (const k of ["name", ...PLACE_FIELDS, "start_time", "end_time", "frequency"]) {
      const v = String(data.get(k) || "").trim();
      if (v || place) body[k] = v;
    }
    body.weekdays = data.getAll("weekday").join(",");
    if (!place) { body.lon = lngLat.lng; body.lat = lngLat.lat; }
    try {
      const saved = await getJSON(place ? regionUrl(`/register/places/${encodeURIComponent(place.place_id)}`)
                                        : regionUrl("/register/places"),
                                  { method: place ? "PATCH" : "POST", body: JSON.stringify(body),
                                    headers: writeHeaders() });
      say(`${tr(place ? "edit_done" : "saved")}: ${saved.place_id}`);
      onSaved(saved);
      followUpdates();
    } catch (err) {
      fill(form.querySelector("#place-error"), err.message);
      save.disabled = false;
    }
  };
  return form;
}

function needWriter() {
  if (token() && who()) return true;
  say(tr("need_token"), true);
  return false;
}

function startPlace(lngLat) {
  if (!needWriter()) return;
  state.selected = null;
  fill($("panel"), placeForm(lngLat, null, () => fill($("panel"), tr("panel_hint"))));
}

async function findAddress(ev) {
  ev.preventDefault();
  const text = $("address-query").value.trim();
  if (!text || !needWriter()) return;
  try {
    const m = await getJSON(regionUrl(`/towns/match?address=${encodeURIComponent(text)}`));
    window.kennai.map.flyTo({ center: [m.lon, m.lat], zoom: 16 });
    startPlace({ lng: m.lon, lat: m.lat });
    $("panel").querySelector("input[name=address]").value = text;
    say(m.town);
  } catch (err) {
    say(err.message, true);
  }
}

// -- a register place's panel: every field, edit, retire and its history ------------------
async function placePanel(f) {
  const id = f.properties.place_id;
  const [place, history] = await Promise.all([
    getJSON(regionUrl(`/register/places/${encodeURIComponent(id)}`)),
    getJSON(regionUrl(`/register/places/${encodeURIComponent(id)}/history`))]);
  const shown = ["category", "address", "weekdays", "start_time", "end_time", "frequency",
                 "audience", "fee", "activity", "contact", "note"];
  const lngLat = { lng: place.lon, lat: place.lat };
  const edit = h("button", { type: "button", id: "place-edit" }, tr("edit"));
  const retire = h("button", { type: "button", id: "place-retire" }, tr("retire"));
  edit.onclick = () => { if (needWriter()) fill($("panel"), placeForm(lngLat, place, () => placePanel(f))); };
  retire.onclick = async () => {
    if (!needWriter()) return;
    const reason = window.prompt(tr("retire_reason")) ?? "";
    try {
      await getJSON(regionUrl(`/register/places/${encodeURIComponent(id)}/retire`),
                    { method: "POST", headers: writeHeaders(), body: JSON.stringify({ by: who(), reason }) });
      say(tr("retired"));
      fill($("panel"), tr("panel_hint"));
      followUpdates();
    } catch (err) { say(err.message, true); }
  };
  fill($("panel"),
    h("div", { class: "name" }, place.name),
    h("table", {}, shown.filter((k) => place[k]).map((k) => h("tr", {}, h("th", {}, tr(k)),
                                                              h("td", {}, place[k])))),
    place.retired_at ? null : [edit, " ", retire],
    h("h3", {}, tr("history")),
    h("ul", { id: "place-history" }, history.map((e) => h("li", {},
      `${e.at} ${e.by}: ${tr(`action_${e.action}`)}`,
      e.action === "edit" ? ` (${Object.keys(e.data).join(", ")})` : ""))));
}

// -- site suggestions ------------------------------------------------------------------------
async function showSuggestions() {
  const sel = state.selected;
  const layerOf = sel && ["elementary", "junior_high", "neighbourhood"].includes(sel.sourceLayer)
    ? sel.sourceLayer : null;
  const q = new URLSearchParams({ k: "5" });
  if (layerOf) { q.set("layer", layerOf); q.set("district", sel.properties.name); }
  const box = $("suggest-list");
  fill(box, tr("checking"));
  try {
    const got = await getJSON(regionUrl(`/access/suggestions?${q}`));
    window.kennai.map.getSource("suggestions").setData(got);
    fill(box, h("p", {}, layerOf ? sel.properties.name : tr("suggest_region")),
      got.features.length ? h("ol", { id: "suggestions" }, got.features.map((s) => {
        const p = s.properties;
        return h("li", {}, h("b", {}, p.name), ` (${p.category || p.kind})`, h("br"),
          `${tr("added_people")} ${Math.round(p.added_population).toLocaleString("ja-JP")}`,
          p.added_population_65plus === null || p.added_population_65plus === undefined ? ""
            : ` / ${tr("added_65")} ${Math.round(p.added_population_65plus).toLocaleString("ja-JP")}`,
          ` · ${tr("within")} ${p.threshold_m} m`);
      })) : h("p", {}, tr("none")));
  } catch (err) {
    fill(box, h("p", { class: "error" }, err.message));
  }
}

// -- two plans side by side ----------------------------------------------------------------
async function comparePlans(ev) {
  ev.preventDefault();
  const a = $("compare-a").value;
  const b = $("compare-b").value;
  const units = $("units-select").value || "elementary";
  const box = $("compare-result");
  fill(box, tr("checking"));
  try {
    const reports = await Promise.all([a, b].map((p) => getJSON(
      regionUrl(`/plans/${encodeURIComponent(p)}/splits?units=${units}`))));
    const title = (name) => (state.region.plans.find((p) => p.name === name) || {}).title || name;
    const row = (label, get) => h("tr", {}, h("th", {}, label), reports.map((r) => h("td", {}, get(r.summary))));
    fill(box, h("table", { id: "compare-table" },
      h("tr", {}, h("th"), [a, b].map((p) => h("th", {}, title(p)))),
      row(tr("areas"), (s) => s.areas),
      row(tr("units_split"), (s) => `${s.units_split}/${s.units}`),
      row(tr("effective"), (s) => s.effective_splits.toFixed(2)),
      row(tr("pop_split"), (s) => (s.population_in_split_units === null ? "—"
        : Math.round(s.population_in_split_units).toLocaleString("ja-JP")))));
    const map = window.kennai.map;
    map.setFilter("plans-line", ["==", ["get", "plan"], a]);
    map.setFilter("compare-line", ["==", ["get", "plan"], b]);
    for (const id of ["plans-line", "compare-line"]) map.setLayoutProperty(id, "visibility", "visible");
  } catch (err) {
    fill(box, h("p", { class: "error" }, err.message));
  }
}

async function savePlan(ev) {
  ev.preventDefault();
  const file = $("plan-file").files[0];
  const status = $("upload-status");
  if (!file || !needWriter()) return;
  const body = new FormData();
  body.append("file", file);
  body.append("name", $("plan-name").value.trim());
  body.append("who", who());
  if ($("plan-title").value.trim()) body.append("title", $("plan-title").value.trim());
  try {
    const column = $("name-column").value.trim();
    const query = column ? `?${new URLSearchParams({ name_column: column })}` : "";
    const res = await fetch(regionUrl(`/plans${query}`), { method: "POST", body,
      headers: { Authorization: `Bearer ${token()}` } });
    const out = await res.json();
    if (!res.ok) throw new Error(state.lang === "ja" ? out.message_ja : out.message);
    status.textContent = `${tr("plan_saved")}: ${out.name}`;
    state.region.plans.push(out);
    fillPlanChoices();
  } catch (err) {
    status.textContent = `${tr("failed")}: ${err.message}`;
    status.className = "error";
  }
}

function fillPlanChoices() {
  for (const id of ["compare-a", "compare-b"]) {
    fill($(id), state.region.plans.map((p) => h("option", { value: p.name }, p.title || p.name)));
  }
  if (state.region.plans.length > 1) $("compare-b").selectedIndex = 1;
}

// -- basemap, suggestions and the comparison line on the map, and the legend ---------------
function addLayers(map, sourceLayers) {
  const under = map.getLayer("elementary-fill") ? "elementary-fill" : undefined;
  const base = (id, type, layer, paint, extra = {}) => {
    if (!sourceLayers.has(layer)) return;
    map.addLayer({ id, type, source: "kennai", "source-layer": layer, paint, ...extra }, under);
  };
  base("water-fill", "fill", "water", { "fill-color": "#a6cee3" });
  base("coastline-line", "line", "coastline", { "line-color": "#4a90c2", "line-width": 1.5 });
  base("waterways-line", "line", "waterways", { "line-color": "#6baed6", "line-width": 1.2 });
  base("rail-line", "line", "rail", { "line-color": "#555", "line-width": 2, "line-dasharray": [3, 2] });
  base("major-roads-line", "line", "major_roads", { "line-color": "#f4a259", "line-width": 2.5 });
  if (sourceLayers.has("place_names")) {
    map.addLayer({ id: "place-names", type: "symbol", source: "kennai", "source-layer": "place_names",
                   layout: { "text-field": ["get", "name"], "text-size": 11, "text-font": ["sans-serif"] },
                   paint: { "text-color": "#37474f", "text-halo-color": "#fff", "text-halo-width": 1.2 } });
  }
  if (sourceLayers.has("plans")) {
    map.addLayer({ id: "compare-line", type: "line", source: "kennai", "source-layer": "plans",
                   layout: { visibility: "none" }, filter: ["==", ["get", "plan"], ""],
                   paint: { "line-color": "#1565c0", "line-width": 3, "line-dasharray": [2, 1] } });
  }
  map.addSource("suggestions", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "suggestions-circle", type: "circle", source: "suggestions",
                 paint: { "circle-radius": 9, "circle-color": "#ffb300", "circle-stroke-color": "#5d4037",
                          "circle-stroke-width": 2 } });
  map.addLayer({ id: "suggestions-rank", type: "symbol", source: "suggestions",
                 layout: { "text-field": ["to-string", ["get", "rank"]], "text-size": 11,
                           "text-font": ["sans-serif"], "text-allow-overlap": true } });
  // Register places open weekly or more (gold ring) apart from the others.
  map.setPaintProperty("register-circle", "circle-stroke-color",
                       ["match", ["get", "frequency"], "週1回以上", "#ffeb3b", "#9e9e9e"]);
}

function buildLegend(categories, sourceLayers) {
  const item = (colour, label, shape = "box") => h("div", {},
    h("span", { class: `swatch ${shape}`, background: colour }), label);
  const rowsOut = [
    ...categories.map((c, i) => item(PALETTE[i % PALETTE.length], `${tr("places")}: ${c}`, "dot")),
    item("#000", tr("register_weekly"), "dot"), item("#9e9e9e", tr("register_other"), "dot"),
    item("#ffb300", tr("suggestion"), "dot"),
    sourceLayers.has("elementary") ? item("#2e7d32", tr("elementary")) : null,
    sourceLayers.has("junior_high") ? item("#6a1b9a", tr("junior_high")) : null,
    sourceLayers.has("neighbourhood") ? item("#1565c0", tr("neighbourhood")) : null,
    sourceLayers.has("gaps") ? item("#6a1b9a", tr("far")) : null,
    sourceLayers.has("gaps") ? item("#616161", tr("unreachable_gap")) : null,
    sourceLayers.has("water") ? item("#a6cee3", tr("basemap")) : null,
    sourceLayers.has("plans") ? item("#d84315", tr("plans")) : null,
  ];
  fill($("legend"), rowsOut);
}

// -- wiring ------------------------------------------------------------------------------
window.kennai.workbench = {
  // Called by app.js: when the map has loaded, when a place is to be added at a click, when a
  // register place is clicked, and for the coverage query (weekly or not).
  onMapLoad(map, categories, sourceLayers) {
    addLayers(map, sourceLayers);
    buildLegend(categories, sourceLayers);
    if (SITE) return;
    fillPlanChoices();
    $("weekly").addEventListener("change", (ev) => {
      wb.weekly = ev.target.checked;
      if (state.selected && state.coverage) showCoverage(state.coverage.layer, state.coverage.name);
    });
    $("address-form").addEventListener("submit", findAddress);
    $("suggest-button").addEventListener("click", showSuggestions);
    $("compare-form").addEventListener("submit", comparePlans);
    $("save-plan").addEventListener("click", savePlan);
  },
  onAddPlace: startPlace,
  onPlace: (f) => placePanel(f).catch((err) => say(err.message, true)),
  coverageQuery: () => (wb.weekly ? "&weekly=true" : ""),
};
