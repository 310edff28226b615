// genderage web page: pick, drop or snap a photo, POST it to /v1/predict, draw the result.
// No third-party code; the photo goes to this server only.
"use strict";

const MAX_BYTES = 10 * 1024 * 1024;  // the server's body limit (multipart envelope included)
const COLORS = { female: "#d9467a", male: "#2b6cd9" };

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
    const response = await fetch("/v1/predict", { method: "POST", body: form });
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
  return { head: `#${index + 1} ${face.gender} ${pct}%`, age: `${lo}–${hi}` };
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
    const widest = Math.max(0, ...sizes.map(([w]) => w));
    if (widest > canvas.width) {  // a narrow photo: a smaller font, so every label fits across
      fontSize = Math.max(6, Math.floor(fontSize * canvas.width / widest));
      sizes = labelSizes(fontSize);
    }
    ctx.textBaseline = "top";
    const pad = Math.round(fontSize * 0.25);
    const rects = placeLabels(faces.map((f) => f.bbox), sizes, canvas.width, canvas.height);
    faces.forEach((face, i) => {
      const [x1, y1, x2, y2] = face.bbox;
      const color = COLORS[face.gender] || "#444";
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
    li.dataset.gender = face.gender;
    li.dataset.ageLow = face.age_interval[0];
    li.dataset.ageHigh = face.age_interval[1];
    const gender = document.createElement("span");
    gender.className = "gender";
    gender.textContent = `${face.gender}`;
    const prob = document.createTextNode(
      ` (model confidence ${Math.round(face.gender_probability * 100)}%), age `);
    const age = document.createElement("span");
    age.className = "age";
    age.textContent = label.age;
    const note = document.createTextNode(` (80% range; point estimate ${face.age.toFixed(0)})`);
    li.append(gender, prob, age, note);
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
