// genderage web page: pick, drop or snap a photo, POST it to /v1/predict, draw the result.
// No third-party code; the photo goes to this server only.
"use strict";

const MAX_BYTES = 10 * 1024 * 1024;  // the server's body limit (multipart envelope included)
const COLORS = { female: "#d9467a", male: "#2b6cd9" };
// The page's query string goes to /v1/predict as it is (?min_gender_probability=0.566,
// ?max_faces=5, ...); live mode applies the same "unknown" rule to its running answers.
const MIN_GENDER_P = Number(new URLSearchParams(window.location.search)
  .get("min_gender_probability")) || null;
const LOW_QUALITY_COLOR = "#969696";  // genderage.annotate.LOW_QUALITY_COLOUR, (150, 150, 150)

const $ = (id) => document.getElementById(id);
const fileInput = $("file");
const dropzone = $("dropzone");
const statusLine = $("status");
const resultSection = $("result");
const canvas = $("canvas");
const facesList = $("faces");
const video = $("video");
let cameraStream = null;
let requestSeq = 0;

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function loadImage(blob) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(blob);
    const img = new Image();
    img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error("the browser cannot display this image")); };
    img.src = url;
  });
}

async function analyze(blob, filename) {
  const seq = ++requestSeq;
  if (blob.size > MAX_BYTES) {
    setStatus(`This file is ${(blob.size / 1048576).toFixed(1)} MiB; the limit is 10 MiB.`, true);
    return;
  }
  setStatus("Analysing…");
  resultSection.hidden = true;
  const form = new FormData();
  form.append("file", blob, filename);
  let body;
  try {
    const response = await fetch("/v1/predict" + window.location.search, { method: "POST", body: form });
    body = await response.json();
    if (!response.ok) {
      throw new Error(body.detail || body.error || `HTTP ${response.status}`);
    }
  } catch (err) {
    if (seq === requestSeq) setStatus(`Could not analyse the photo: ${err.message}`, true);
    return;
  }
  if (seq !== requestSeq) return;  // a newer photo was chosen meanwhile
  let img = null;
  try {
    img = await loadImage(blob);
  } catch (err) {
    // The server decoded it (e.g. TIFF) but this browser cannot show it: list the faces anyway.
  }
  render(img, body.faces);
  const n = body.faces.length;
  setStatus(n === 0 ? "No face found in this photo." : `${n} face${n === 1 ? "" : "s"} found.`);
}

function faceLabel(face, index) {
  const pct = Math.round(face.gender_probability * 100);
  const [lo, hi] = face.age_interval.map(Math.round);
  const id = face.track_id || index + 1;  // live camera mode: the face's track id
  return { head: `#${id} ${face.gender ?? "unknown"} ${pct}%`, age: `${lo}–${hi}` };
}

// Where each face's label goes: inside the photo and, when there is room, over no other
// label. The same rule as genderage.annotate.place_labels (Python): in order, the first free
// spot of above the box, below it, inside its top edge (left- or right-aligned with the box,
// moved left to stay inside); else the nearest free row; else above the box, overlapping.
// boxes: [x1, y1, x2, y2]; sizes: [w, h]; returns [x, y, w, h] per label.
function placeLabels(boxes, sizes, width, height) {
  const overlap = (a, b) => a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
  const placed = [];
  boxes.forEach(([x1, y1, x2, y2], i) => {
    const [w, h] = sizes[i];
    const clampX = (x) => Math.min(Math.max(0, Math.round(x)), Math.max(0, width - w));
    const clampY = (y) => Math.min(Math.max(0, Math.round(y)), Math.max(0, height - h));
    const xs = [clampX(x1), clampX(x2 - w)];
    const ys = [y1 - h, y2, y1].filter((y) => y >= 0 && y + h <= height).map(Math.round);
    const rows = [];
    for (let y = 0; y < Math.max(1, height - h + 1); y += Math.max(1, Math.floor(h / 2))) rows.push(y);
    rows.sort((a, b) => Math.abs(a - (y1 - h)) - Math.abs(b - (y1 - h)));
    let spot = null;
    for (const y of ys.concat(rows)) {
      for (const x of xs) {
        const r = [x, y, w, h];
        if (!placed.some((q) => overlap(r, q))) { spot = r; break; }
      }
      if (spot) break;
    }
    placed.push(spot || [xs[0], clampY(y1 - h), w, h]);
  });
  return placed;
}

function render(img, faces) {
  const ctx = canvas.getContext("2d");
  if (img) {
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    ctx.drawImage(img, 0, 0);
    const scale = Math.max(canvas.width, canvas.height) / 800;
    const lineWidth = Math.max(2, 3 * scale);
    const texts = faces.map((face, i) => {
      const label = faceLabel(face, i);
      return `${label.head}, age ${label.age}`;
    });
    const labelSizes = (fontSize) => {
      ctx.font = `600 ${fontSize}px system-ui, sans-serif`;
      const pad = Math.round(fontSize * 0.25);
      return texts.map((t) => [Math.ceil(ctx.measureText(t).width) + 2 * pad, fontSize + 2 * pad]);
    };
    let fontSize = Math.max(12, Math.round(16 * scale));
    let sizes = labelSizes(fontSize);
    // A narrow photo: a smaller font until every label fits across (text width does not
    // scale exactly with the font size, so shrink again while it still does not fit).
    for (let i = 0; i < 8; i++) {
      const widest = Math.max(0, ...sizes.map(([w]) => w));
      if (widest <= canvas.width || fontSize <= 4) break;
      fontSize = Math.max(4, Math.min(fontSize - 1, Math.floor(fontSize * canvas.width / widest)));
      sizes = labelSizes(fontSize);
    }
    ctx.textBaseline = "top";
    const pad = Math.round(fontSize * 0.25);
    const rects = placeLabels(faces.map((f) => f.bbox), sizes, canvas.width, canvas.height);
    faces.forEach((face, i) => {
      const [x1, y1, x2, y2] = face.bbox;
      const lowQuality = face.quality && face.quality.low_quality;
      const color = lowQuality ? LOW_QUALITY_COLOR : (COLORS[face.gender] || "#444");
      ctx.strokeStyle = color;
      ctx.lineWidth = lineWidth;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const [lx, ly, w, h] = rects[i];
      ctx.fillStyle = color;
      ctx.fillRect(lx, ly, w, h);
      ctx.fillStyle = "#fff";
      ctx.fillText(texts[i], lx + pad, ly + pad);
    });
  } else {
    canvas.width = canvas.height = 0;
  }

  facesList.replaceChildren(...faces.map((face, i) => {
    const label = faceLabel(face, i);
    const li = document.createElement("li");
    li.className = "face";
    li.dataset.gender = face.gender ?? "unknown";
    li.dataset.ageLow = face.age_interval[0];
    li.dataset.ageHigh = face.age_interval[1];
    const gender = document.createElement("span");
    gender.className = "gender";
    gender.textContent = `${face.gender ?? "unknown"}`;
    const prob = document.createTextNode(
      ` (model confidence ${Math.round(face.gender_probability * 100)}%), age `);
    const age = document.createElement("span");
    age.className = "age";
    age.textContent = label.age;
    const note = document.createTextNode(` (80% range; point estimate ${face.age.toFixed(0)})`);
    li.append(gender, prob, age, note);
    if (face.track_id) {
      li.dataset.trackId = face.track_id;
      li.dataset.snapshots = face.snapshots;
      li.append(document.createTextNode(` · averaged over ${face.snapshots} snapshot${face.snapshots === 1 ? "" : "s"}`));
    }
    if (face.quality && face.quality.low_quality) {
      const warn = document.createElement("div");
      warn.className = "low-quality";
      warn.textContent = `Low quality face (${face.quality.reasons.join(", ")}): treat with extra caution.`;
      li.append(warn);
    }
    return li;
  }));
  $("faces-title").textContent = faces.length ? "Faces" : "No faces";
  resultSection.hidden = false;
}

fileInput.addEventListener("change", () => {
  const file = fileInput.files[0];
  if (file) analyze(file, file.name);
  fileInput.value = "";  // choosing the same file again fires "change" again
});

["dragenter", "dragover"].forEach((type) => dropzone.addEventListener(type, (e) => {
  e.preventDefault();
  dropzone.classList.add("dragover");
}));
["dragleave", "drop"].forEach((type) => dropzone.addEventListener(type, (e) => {
  e.preventDefault();
  dropzone.classList.remove("dragover");
}));
dropzone.addEventListener("drop", (e) => {
  const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/")) || e.dataTransfer.files[0];
  if (file) analyze(file, file.name);
  else setStatus("Drop an image file.", true);
});
// A photo dropped outside the zone would otherwise replace the page.
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());

// Webcam snapshots: only where the browser allows camera access (HTTPS or localhost).
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  $("camera-start").hidden = false;
}

$("camera-start").addEventListener("click", async () => {
  try {
    cameraStream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (err) {
    setStatus(`Camera not available: ${err.message}`, true);
    return;
  }
  video.srcObject = cameraStream;
  $("camera").hidden = false;
});

function stopCamera() {
  stopLive();
  if (cameraStream) cameraStream.getTracks().forEach((t) => t.stop());
  cameraStream = null;
  video.srcObject = null;
  $("camera").hidden = true;
}

$("camera-stop").addEventListener("click", stopCamera);

$("camera-snap").addEventListener("click", () => {
  if (!video.videoWidth) return;
  const snap = document.createElement("canvas");
  snap.width = video.videoWidth;
  snap.height = video.videoHeight;
  snap.getContext("2d").drawImage(video, 0, 0);
  snap.toBlob((blob) => {
    stopCamera();
    if (blob) analyze(blob, "snapshot.jpg");
  }, "image/jpeg", 0.92);
});

// Live camera mode: a snapshot about every second, each face followed from snapshot to
// snapshot and its estimate averaged. The rule is genderage's video smoothing
// (genderage/video/smoothing.py), applied to the API's answers:
// - weight = det_score * min(1, inter_ocular_px / 44) * min(1, blur / 150) * cos(yaw) * cos(pitch);
// - faces flagged low quality count only while the face has no other;
// - gender: weighted mean of the calibrated log-odds (the model's averaged logits, calibrated);
//   age: weighted mean of the ages (the expectation of the averaged age distributions), with
//   the snapshots' interval width in log(1 + age) space (the model's calibrated interval);
// - the shown label changes only when the other label's averaged probability reaches 0.7.
const SWITCH_PROBABILITY = 0.7;
const FULL_INTER_OCULAR_PX = 44;
const FULL_BLUR = 150;
const TRACK_IOU = 0.3;         // smallest box overlap that links a face to the previous snapshot's
const TRACK_MAX_GAP = 3;       // snapshots a face may be missing before its track ends
const LIVE_INTERVAL_MS = 1000;

function qualityWeight(q) {
  const rad = (deg) => Math.min(Math.abs(deg), 89) * Math.PI / 180;
  const size = Math.min(1, q.inter_ocular_px / FULL_INTER_OCULAR_PX);
  const sharp = Math.min(1, q.blur / FULL_BLUR);
  return Math.max(1e-6, q.det_score * size * sharp * Math.cos(rad(q.yaw)) * Math.cos(rad(q.pitch)));
}

class TrackSmoother {
  constructor() {
    this.good = { w: 0, n: 0, logOdds: 0, age: 0, lo: 0, hi: 0 };
    this.all = { w: 0, n: 0, logOdds: 0, age: 0, lo: 0, hi: 0 };
    this.label = null;
  }

  add(face) {
    const w = qualityWeight(face.quality);
    const p = face.female_probability ??
      (face.gender === "female" ? face.gender_probability : 1 - face.gender_probability);
    const pf = Math.min(Math.max(p, 1e-4), 1 - 1e-4);  // the API rounds to 4 decimals
    const base = Math.log1p(face.age);
    const sample = { logOdds: Math.log(pf / (1 - pf)), age: face.age,
                     lo: Math.log1p(face.age_interval[0]) - base,
                     hi: Math.log1p(face.age_interval[1]) - base };
    const sums = face.quality.low_quality ? [this.all] : [this.all, this.good];
    for (const acc of sums) {
      acc.w += w;
      acc.n += 1;
      for (const key of ["logOdds", "age", "lo", "hi"]) acc[key] += w * sample[key];
    }
    const lowQuality = this.good.n === 0;
    const acc = lowQuality ? this.all : this.good;
    const pFemale = 1 / (1 + Math.exp(-acc.logOdds / acc.w));
    const age = acc.age / acc.w;
    const pLabel = (label) => (label === "female" ? pFemale : 1 - pFemale);
    if (this.label === null) this.label = pFemale >= 0.5 ? "female" : "male";
    else if (pLabel(this.label) <= 1 - SWITCH_PROBABILITY) {
      this.label = this.label === "female" ? "male" : "female";
    }
    const clip = (years) => Math.min(120, Math.max(0, years));
    const interval = [clip(Math.min(age, Math.expm1(Math.log1p(age) + acc.lo / acc.w))),
                      clip(Math.max(age, Math.expm1(Math.log1p(age) + acc.hi / acc.w)))];
    return { gender: this.label, gender_probability: pLabel(this.label), age,
             age_interval: interval, snapshots: acc.n, low_quality: lowQuality };
  }
}

function boxIou(a, b) {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const area = (r) => Math.max(0, r[2] - r[0]) * Math.max(0, r[3] - r[1]);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

// Links each snapshot's faces to the previous ones (greedy by IoU, as genderage/video/tracker.py
// does; snapshots are a second apart, so without its motion model) and smooths each track.
class SnapshotTracker {
  constructor() {
    this.tracks = [];
    this.nextId = 1;
    this.snapshot = 0;
  }

  update(faces) {
    this.snapshot += 1;
    this.tracks = this.tracks.filter((t) => this.snapshot - t.seen <= TRACK_MAX_GAP);
    const pairs = [];
    this.tracks.forEach((t, r) => faces.forEach((f, c) => {
      const iou = boxIou(t.box, f.bbox);
      if (iou >= TRACK_IOU) pairs.push([iou, r, c]);
    }));
    pairs.sort((x, y) => y[0] - x[0] || x[1] - y[1] || x[2] - y[2]);
    const trackOf = new Array(faces.length).fill(null);
    const used = new Set();
    for (const [, r, c] of pairs) {
      if (!used.has(r) && trackOf[c] === null) { used.add(r); trackOf[c] = this.tracks[r]; }
    }
    return faces.map((face, c) => {
      let track = trackOf[c];
      if (track === null) {
        track = { id: this.nextId++, smoother: new TrackSmoother() };
        this.tracks.push(track);
      }
      track.box = face.bbox;
      track.seen = this.snapshot;
      const smoothed = track.smoother.add(face);
      return { bbox: face.bbox, track_id: track.id, snapshots: smoothed.snapshots,
               gender: MIN_GENDER_P !== null && smoothed.gender_probability < MIN_GENDER_P
                 ? null : smoothed.gender,
               gender_probability: smoothed.gender_probability,
               age: smoothed.age, age_interval: smoothed.age_interval,
               quality: { ...face.quality, low_quality: smoothed.low_quality } };
    });
  }
}

let live = null;  // { tracker, timer } while live mode runs

function snapshotBlob() {
  const snap = document.createElement("canvas");
  snap.width = video.videoWidth;
  snap.height = video.videoHeight;
  snap.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve) => snap.toBlob(resolve, "image/jpeg", 0.92));
}

async function liveStep(session) {
  if (live !== session) return;
  if (video.videoWidth) {
    try {
      const blob = await snapshotBlob();
      const form = new FormData();
      form.append("file", blob, "snapshot.jpg");
      const response = await fetch("/v1/predict" + window.location.search, { method: "POST", body: form });
      const body = await response.json();
      if (!response.ok) throw new Error(body.detail || body.error || `HTTP ${response.status}`);
      if (live !== session) return;
      const faces = session.tracker.update(body.faces);
      render(await loadImage(blob), faces);
      setStatus(`Live: snapshot ${session.tracker.snapshot}, ${faces.length} face${faces.length === 1 ? "" : "s"}; each label is averaged over that face's snapshots.`);
    } catch (err) {
      if (live === session) setStatus(`Could not analyse the snapshot: ${err.message}`, true);
    }
  }
  if (live === session) session.timer = setTimeout(() => liveStep(session), LIVE_INTERVAL_MS);
}

function stopLive() {
  if (live) clearTimeout(live.timer);
  live = null;
  $("camera-live").textContent = "Follow live";
}

$("camera-live").addEventListener("click", () => {
  if (live) { stopLive(); return; }
  requestSeq += 1;  // a pending single-photo answer must not overwrite the live view
  live = { tracker: new SnapshotTracker(), timer: null };
  $("camera-live").textContent = "Stop following";
  liveStep(live);
});
