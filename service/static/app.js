// preloved demo page. Plain JavaScript, no build step. Every piece of data reaches the page
// through textContent or an attribute value, never parsed as HTML.
"use strict";

const ATTRIBUTES = ["brand", "category", "colour", "size", "style", "gender", "condition", "price_min", "price_max"];
const FACETS = ["brand", "category", "colour", "size", "gender", "condition"];
const CARD_FIELDS = ["brand", "category", "colour", "size", "condition"];
const STAGE_ORDER = ["qu", "retrieval", "rerank", "total", "wait", "server"];
const K = 12;
const DEEPEST = 100; // a search returns its first 100 results at most (offset + k <= 100)

const $ = (id) => document.getElementById(id);
const state = { query: "", excluded: [], removedValues: {}, filters: {}, seq: 0 };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function show(value) {
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// `more`: the next page of the same search, added below the cards already shown
async function runSearch(more = false) {
  const seq = ++state.seq;
  const offset = more ? $("results").children.length : 0;
  const body = { query: state.query, k: K, offset, filters: state.filters, exclude: state.excluded };
  body.stages = $("rerank").checked ? "rerank" : "hybrid";
  setStatus("Searching…");
  document.body.dataset.state = "loading";
  let response, data;
  try {
    response = await fetch("/search", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    data = await response.json();
  } catch (err) {
    if (seq === state.seq) { setStatus("The search service did not answer: " + err, true); document.body.dataset.state = "error"; }
    return;
  }
  if (seq !== state.seq) return; // a newer search is on its way
  if (!response.ok) {
    setStatus((data && data.detail) || ("Error " + response.status), true);
    renderChips(null); renderResults([]); renderFacets({}); renderTimings({});
    $("more").hidden = true;
    document.body.dataset.state = "error";
    return;
  }
  renderChips(data);
  renderResults(data.results, more);
  if (!more) renderFacets(data.facets || {}); // the facets count the first page's results
  renderTimings(data.timings_ms || {});
  const n = $("results").children.length;
  $("more").hidden = data.results.length < K || n + K > DEEPEST;
  const found = n ? `${n} result${n === 1 ? "" : "s"} for “${data.query}”` : `No results for “${data.query}”`;
  const depth = data.rerank_depth ? ` (top ${data.rerank_depth})` : "";
  setStatus(`${found} · ranked by ${data.stages}${depth}`);
  document.body.dataset.state = "done";
  document.body.dataset.seq = String(seq);
}

function spanTitle(parsed, attribute) {
  const spans = (parsed.spans || []).filter((s) => s.attribute === attribute);
  const layer = (parsed.sources || {})[attribute];
  const parts = spans.map((s) => `“${s.text}” at ${s.start}–${s.end} (${s.source})`);
  if (!parts.length && layer) parts.push(`from ${layer}`);
  return parts.join("; ");
}

function chip(attribute, value, { layer, title, className, buttonLabel, onClick, label: named }) {
  const label = named || attribute.replace("_", " ");
  return el("span", { className: "chip " + (className || ""), title: title || "", dataset: { attribute, layer: layer || "" } },
    el("span", { className: "name", text: `${label}: ` }),
    el("strong", { text: show(value) }),
    layer ? el("span", { className: "layer", text: layer }) : null,
    el("button", { type: "button", "aria-label": `${buttonLabel} ${label}`, text: buttonLabel === "Remove" ? "×" : "↺", onclick: onClick }));
}

function renderChips(data) {
  const box = $("chips");
  box.replaceChildren();
  $("notes").textContent = "";
  if (!data) return;
  const parsed = data.parsed || {};
  for (const attribute of ATTRIBUTES) {
    const value = parsed[attribute];
    if (value === null || value === undefined || (Array.isArray(value) && !value.length)) continue;
    box.append(chip(attribute, value, {
      layer: (parsed.sources || {})[attribute], title: spanTitle(parsed, attribute), buttonLabel: "Remove",
      onClick: () => { state.excluded.push(attribute); state.removedValues[attribute] = value; runSearch(); },
    }));
  }
  // values the query does not want ("dress not black"): excluded from the results; removing the chip
  // drops the attribute read from the query, wanted or not
  for (const [attribute, value] of Object.entries((parsed.extra || {}).negated || {})) {
    box.append(chip(attribute, value, {
      label: `not ${attribute}`, className: "negated", title: "excluded: the query does not want it",
      buttonLabel: "Remove",
      onClick: () => { state.excluded.push(attribute); state.removedValues[attribute] = value; runSearch(); },
    }));
  }
  for (const [attribute, value] of Object.entries(state.filters)) {
    box.append(chip(attribute, value, {
      layer: "user", className: "user", title: "your filter", buttonLabel: "Remove",
      onClick: () => { delete state.filters[attribute]; runSearch(); },
    }));
  }
  for (const attribute of state.excluded) {
    box.append(chip(attribute, state.removedValues[attribute] ?? "ignored", {
      className: "removed", title: "removed; click to use it again", buttonLabel: "Restore",
      onClick: () => { state.excluded = state.excluded.filter((a) => a !== attribute); runSearch(); },
    }));
  }
  const notes = [];
  // where qu wrote a slip right or spaced words run together ("blackdress"), what it read
  const readAs = (parsed.extra || {}).read_as;
  if (readAs) notes.push("Read as: " + readAs);
  // a relaxed attribute still applied was widened (a colour to its family, a category to its parent)
  const applied = data.applied_filters || {};
  const relaxed = data.relaxed_filters || [];
  const widened = relaxed.filter((a) => a in applied);
  const dropped = relaxed.filter((a) => !(a in applied));
  if (widened.length) notes.push("Widened: " + widened.map((a) => `${a} to ${show(applied[a])}`).join("; ")
    + " (too few matched the value asked)");
  if (dropped.length) notes.push("Ranked, not filtered, by: " + dropped.join(", ")
    + " (no listing had the value, or too few matched)");
  if (parsed.residual) notes.push("Free text: " + parsed.residual);
  $("notes").textContent = notes.join(" · ");
}

function formatPrice(row) {
  if (row.price === undefined || row.price === null) return "";
  const currency = typeof row.currency === "string" ? row.currency + " " : "£";
  return currency + Number(row.price).toFixed(2);
}

function renderResults(results, more = false) {
  const list = $("results");
  if (!more) list.replaceChildren();
  for (const row of results) {
    const details = el("dl");
    for (const field of CARD_FIELDS) {
      if (row[field] === undefined || row[field] === null || row[field] === "") continue;
      details.append(el("dt", { text: field }), el("dd", { className: field, text: show(row[field]) }));
    }
    const price = formatPrice(row);
    list.append(el("li", { className: "card", dataset: { id: String(row.id) } },
      el("h3", { className: "title", text: row.title || "(untitled)" }),
      details,
      price ? el("div", { className: "price", text: price }) : null,
      el("div", { className: "score", text: `id ${row.id} · score ${Number(row.score).toFixed(3)}` })));
  }
}

function renderFacets(facets) {
  const box = $("facets");
  box.replaceChildren();
  for (const name of FACETS) {
    const counts = facets[name];
    if (!counts) continue;
    const items = el("ul");
    for (const [value, count] of Object.entries(counts)) {
      items.append(el("li", {},
        el("button", { type: "button", dataset: { facet: name, value }, title: `only ${name} ${value}`,
          onclick: () => { state.filters[name] = value; state.excluded = state.excluded.filter((a) => a !== name); runSearch(); } },
          el("span", { text: value }), el("span", { className: "count", text: String(count) }))));
    }
    box.append(el("section", { dataset: { facet: name } }, el("h2", { text: name }), items));
  }
}

function renderTimings(timings) {
  const box = $("timings");
  box.replaceChildren();
  const keys = [...STAGE_ORDER.filter((k) => k in timings), ...Object.keys(timings).filter((k) => !STAGE_ORDER.includes(k))];
  for (const key of keys) {
    box.append(el("span", { dataset: { stage: key }, text: `${key} ${Number(timings[key]).toFixed(1)} ms` }));
  }
}

function submit(event) {
  event.preventDefault();
  const query = $("q").value.trim();
  if (!query) { setStatus("Type something to search for.", true); return; }
  state.query = query;
  state.excluded = [];
  state.removedValues = {};
  state.filters = {};
  const url = new URL(window.location.href);
  url.searchParams.set("q", query);
  window.history.replaceState(null, "", url);
  runSearch();
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", submit);
  $("rerank").addEventListener("change", () => { if (state.query) runSearch(); });
  $("more").addEventListener("click", () => runSearch(true));
  const initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { $("q").value = initial; state.query = initial.trim(); if (state.query) runSearch(); }
});
