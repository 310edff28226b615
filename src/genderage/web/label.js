// The labelling page: shows face `done` of the sample, sends each answer, prefetches the
// next faces as in-memory blobs (the server sends them with no-store) so that the next face
// shows at once. window.labelTimings holds, per answer, the milliseconds from the key press
// to the next face being drawn (benchmarks/bench_label.py reads it).
"use strict";

const img = document.getElementById("face");
const age = document.getElementById("age");
const progress = document.getElementById("progress");
const statusLine = document.getElementById("status");
const blobs = new Map();   // rank -> Promise<object URL>
let state = null;
let busy = false;
window.labelTimings = [];

function faceUrl(rank) {
  if (!blobs.has(rank)) {
    blobs.set(rank, fetch(`/api/face/${rank}`).then(async (r) => {
      if (!r.ok) {   // the server says why (e.g. the photo or video is gone)
        const data = await r.json().catch(() => ({}));
        throw new Error(data.detail || `face ${rank}: HTTP ${r.status}`);
      }
      return r.blob();
    }).then((b) => URL.createObjectURL(b)));
  }
  return blobs.get(rank);
}

function prefetch() {
  for (let k = state.done; k < Math.min(state.n, state.done + 1 + state.prefetch); k++) {
    faceUrl(k).catch(() => blobs.delete(k));
  }
  for (const [rank, url] of blobs) {   // drop faces that are no longer near
    if (rank < state.done - 1 || rank > state.done + state.prefetch) {
      url.then((u) => URL.revokeObjectURL(u)).catch(() => {});
      blobs.delete(rank);
    }
  }
}

async function show(started) {
  progress.textContent = `${state.done} of ${state.n} labelled` +
    (state.stratified_by ? ` (stratified by ${state.stratified_by})` : "");
  document.getElementById("done").hidden = !state.finished;
  document.getElementById("form").hidden = state.finished;
  if (state.finished) { img.removeAttribute("src"); img.dataset.rank = ""; return; }
  const rank = state.done;
  let url;
  try { url = await faceUrl(rank); } catch (e) {
    blobs.delete(rank); img.removeAttribute("src"); img.dataset.rank = String(rank);
    statusLine.textContent = `${e.message || e}: this face cannot be shown; press C ` +
      "(can't tell) to go on."; return;
  }
  img.src = url;
  await img.decode().catch(() => {});
  img.dataset.rank = String(rank);
  if (started !== undefined) window.labelTimings.push(performance.now() - started);
  prefetch();
}

async function call(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.detail ? JSON.stringify(data.detail) : `HTTP ${r.status}`);
  return data;
}

async function answer(gender, started) {
  if (busy || !state || state.finished) return;
  const text = age.value.trim();
  const years = text === "" ? null : Number(text);
  if (years !== null && !(Number.isFinite(years) && years >= 0 && years <= 120)) {
    statusLine.textContent = "The age must be a number from 0 to 120, or empty."; return;
  }
  busy = true;
  try {
    state = await call("/api/label", {rank: state.done, gender, age: years});
    statusLine.textContent = "";
    age.value = "";
    await show(started);
  } catch (e) {
    statusLine.textContent = `Not saved: ${e.message}`;
    state = await (await fetch("/api/state")).json();
    await show();
  } finally { busy = false; age.focus(); }
}

async function undo() {
  if (busy) return;
  busy = true;
  try {
    state = await call("/api/undo");
    statusLine.textContent = "The last answer was taken back.";
    await show();
  } catch (e) { statusLine.textContent = `Undo failed: ${e.message}`; }
  finally { busy = false; age.focus(); }
}

const KEYS = {f: "female", m: "male", c: "cant_tell", x: "not_a_face"};
document.addEventListener("keydown", (ev) => {
  const key = ev.key.toLowerCase();
  if ((ev.ctrlKey || ev.metaKey) && key === "z") { ev.preventDefault(); undo(); return; }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (KEYS[key]) { ev.preventDefault(); answer(KEYS[key], performance.now()); }
  else if (key === "u") { ev.preventDefault(); undo(); }
  else if (key === "enter") { ev.preventDefault(); }
  else if (/^[0-9]$/.test(key) && ev.target !== age) {
    ev.preventDefault(); age.value += key; age.focus();
  }
});
for (const b of document.querySelectorAll("button[data-gender]")) {
  b.addEventListener("click", () => answer(b.dataset.gender, performance.now()));
}
document.getElementById("undo").addEventListener("click", undo);

(async () => {
  state = await (await fetch("/api/state")).json();
  await show();
  age.focus();
})();
