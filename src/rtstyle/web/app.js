// rtstyle serve: live style transfer in the browser with onnxruntime-web (the global `ort`).
// Each model takes image: float32 [1, 3, H, W], RGB in 0-255, H and W multiples of the
// model's `multiple`, and gives stylized: the same shape, 0-255.

import { PageStabilizer } from './stabilizer.mjs';

const $ = (id) => document.getElementById(id);
const video = $('video');
const input = $('input');
const output = $('output');
const grab = document.createElement('canvas'); // where frames are read, before both panels show them at once
const grabCtx = grab.getContext('2d', { willReadFrequently: true });
const inputCtx = input.getContext('2d');
const outputCtx = output.getContext('2d');
const status = (text) => { $('status').textContent = text; }; // the model and its backend
const notice = (text) => { $('notice').textContent = text; }; // a problem with the camera or the file

ort.env.wasm.wasmPaths = new URL('vendor/', location.href).href;
// Threads need SharedArrayBuffer, which the server's COOP/COEP headers make available.
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

const providers = (async () => {
  try {
    return navigator.gpu && await navigator.gpu.requestAdapter() ? ['webgpu', 'wasm'] : ['wasm'];
  } catch {
    return ['wasm'];
  }
})();
const sessions = new Map(); // model id -> Promise<{ session, backend }>
let models = [];
let wanted = null; // the model the user picked last
let active = null; // { session, backend, model }: the one frames go through

function loadSession(model) {
  if (!sessions.has(model.id)) {
    const loading = (async () => {
      const response = await fetch(model.url);
      if (!response.ok) throw new Error(`${model.url}: ${response.status} ${response.statusText}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      let error;
      for (const backend of await providers) {
        try {
          return { session: await ort.InferenceSession.create(bytes, { executionProviders: [backend] }), backend };
        } catch (e) {
          error = e;
        }
      }
      throw error;
    })();
    loading.catch(() => sessions.delete(model.id));
    sessions.set(model.id, loading);
  }
  return sessions.get(model.id);
}

async function selectStyle(model) {
  wanted = model;
  for (const b of $('styles').children) b.setAttribute('aria-pressed', b.dataset.id === model.id);
  status(`Loading ${model.label}...`);
  try {
    const { session, backend } = await loadSession(model);
    if (wanted !== model) return;
    active = { session, backend, model };
    status(`${model.label}: ${backend === 'webgpu' ? 'WebGPU' : `WebAssembly, ${ort.env.wasm.numThreads} thread(s)`}`);
  } catch (e) {
    if (wanted === model) status(`Cannot load ${model.label}: ${e.message || e}`);
  }
}

function showStyles(list = models) {
  for (const model of list) {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.id = model.id;
    button.title = [model.description, model.credit].filter(Boolean).join('. ');
    const img = new Image();
    img.src = model.thumbnail;
    img.alt = '';
    button.append(img, model.label);
    button.addEventListener('click', () => selectStyle(model));
    $('styles').append(button);
  }
}

// ---------------------------------------------------------------- sources: camera or file

function stopSource() {
  video.srcObject?.getTracks().forEach((t) => t.stop());
  video.srcObject = null;
  if (video.src) URL.revokeObjectURL(video.src);
  video.removeAttribute('src');
}

async function startCamera(deviceId) {
  if (!navigator.mediaDevices) {
    notice('The camera needs a page from http://localhost or https: drop a video file instead.');
    return;
  }
  stopSource();
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({
      video: deviceId ? { deviceId: { exact: deviceId } } : { width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
    video.loop = false;
    await video.play();
  } catch (e) {
    notice(`No camera (${e.name || e}): drop a video file on the page instead.`);
    return;
  }
  notice('');
  const current = video.srcObject.getVideoTracks()[0].getSettings().deviceId;
  const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  $('camera').replaceChildren(...cameras.map((d, i) =>
    new Option(d.label || `Camera ${i + 1}`, d.deviceId, false, d.deviceId === current)));
}

function playFile(file) {
  if (!file.type.startsWith('video/')) {
    notice(`${file.name} is not a video file.`);
    return;
  }
  stopSource();
  video.src = URL.createObjectURL(file);
  video.loop = true;
  $('camera').value = ''; // no camera selected: picking one switches back
  notice('');
  video.play().catch((e) => notice(`Cannot play ${file.name}: ${e.message}`));
}

// ---------------------------------------------------------------- temporal stabilization

// rtstyle's Stabilizer in JavaScript (stabilizer.mjs): the colours averaged along the
// motion, the brush strokes carried with it, never blurred.
const stabilizer = new PageStabilizer();

// ---------------------------------------------------------------- the frame loop

// Frames drawn per second, inference time and the stabilizer's time (null: off), each
// smoothed over the last ten frames or so.
const meter = {
  last: 0,
  interval: 0,
  ms: 0,
  steady: 0,
  tick(ms, steadyMs, size) {
    const now = performance.now(), ema = (a, b) => (a ? 0.9 * a + 0.1 * b : b);
    if (this.last) this.interval = ema(this.interval, now - this.last);
    this.last = now;
    this.ms = ema(this.ms, ms);
    this.steady = steadyMs === null ? 0 : ema(this.steady, steadyMs);
    const steady = steadyMs === null ? '' : `, ${this.steady.toFixed(0)} ms stabilize`;
    if (this.interval) $('fps').textContent = `${(1000 / this.interval).toFixed(1)} fps, ${this.ms.toFixed(0)} ms inference${steady}, ${size}`;
  },
};

function fit(canvas, w, h) {
  if (canvas.width !== w || canvas.height !== h) Object.assign(canvas, { width: w, height: h }); // resizing clears
}

function frameSize(model) {
  const scale = Math.min(1, Number($('size').value) / Math.min(video.videoWidth, video.videoHeight));
  const m = model.multiple;
  return [video.videoWidth, video.videoHeight].map((v) => Math.max(m, Math.round((v * scale) / m) * m));
}

async function stylize({ session, model }) {
  const [w, h] = frameSize(model);
  fit(grab, w, h);
  grabCtx.drawImage(video, 0, 0, w, h);
  const frame = grabCtx.getImageData(0, 0, w, h);
  const rgba = frame.data, n = w * h, x = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    x[i] = rgba[4 * i];
    x[n + i] = rgba[4 * i + 1];
    x[2 * n + i] = rgba[4 * i + 2];
  }
  const t0 = performance.now();
  const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, h, w]) });
  const ms = performance.now() - t0;
  // a copy of the output: the stabilizer reads it many times, and on onnxruntime's own
  // array it ran slower (4 interleaved pairs of runs: 19-26 ms against 23-27 ms a frame)
  const y = result[session.outputNames[0]].data.slice();
  let steadyMs = null;
  if ($('stabilize').checked) {
    const t1 = performance.now();
    stabilizer.apply(`${model.id} ${w}x${h}`, x, y, w, h);
    steadyMs = performance.now() - t1;
  } else {
    stabilizer.reset();
  }
  fit(input, w, h);
  fit(output, w, h);
  inputCtx.putImageData(frame, 0, 0); // the frame the network saw, shown with its output
  const s = Number($('strength').value) / 100;
  for (let i = 0; i < n; i++) {
    rgba[4 * i] = s * y[i] + (1 - s) * x[i];
    rgba[4 * i + 1] = s * y[n + i] + (1 - s) * x[n + i];
    rgba[4 * i + 2] = s * y[2 * n + i] + (1 - s) * x[2 * n + i];
  }
  outputCtx.putImageData(frame, 0, 0);
  output.dataset.style = model.id;
  output.dataset.frames = Number(output.dataset.frames || 0) + 1;

  meter.tick(ms, steadyMs, `${w}x${h}`);
}

// One inference at a time: the next frame is awaited only once this one is drawn.
const nextFrame = () => new Promise((resolve) =>
  video.requestVideoFrameCallback ? video.requestVideoFrameCallback(resolve) : requestAnimationFrame(resolve));

async function run() {
  for (;;) {
    await nextFrame();
    const job = active;
    if (!job || video.videoWidth === 0) continue;
    try {
      await stylize(job);
    } catch (e) {
      status(`${job.model.label} failed: ${e.message || e}`);
      if (active === job) active = null;
    }
  }
}

// ---------------------------------------------------------------- learning a style (rtstyle learn)

// The server trains one style at a time (POST learn: the picture as the body); this polls
// GET learn for its progress, and once the style is installed, adds and selects it.
const minutes = (s) => (s >= 90 ? `${Math.round(s / 60)} min` : `${Math.max(1, Math.round(s))} s`);
let polling = null;

function showLearning(job) {
  const box = $('learning'), text = $('learn-status'), bar = $('learn-progress');
  box.hidden = !['running', 'failed', 'cancelled'].includes(job.state);
  $('learn-cancel').hidden = job.state !== 'running';
  if (job.state === 'running') {
    if (job.step && job.total) Object.assign(bar, { max: job.total, value: job.step });
    else bar.removeAttribute('value'); // preparing: an indeterminate bar
    const left = job.remaining_s !== undefined ? `, about ${minutes(job.remaining_s)} left` : '';
    const step = job.step ? `step ${job.step} of about ${job.total}` : job.stage || 'starting';
    text.textContent = `Learning ${job.name}: ${step}${left}. The live view runs slower while this computer trains.`;
  } else if (job.state === 'failed') {
    text.textContent = `Could not learn ${job.name || 'the picture'}: ${job.message}`;
  } else if (job.state === 'cancelled') {
    text.textContent = `Learning ${job.name || ''} cancelled.`;
  }
}

async function pollLearning() {
  const job = await (await fetch('learn')).json();
  showLearning(job);
  if (job.state === 'running') {
    polling = setTimeout(pollLearning, 1000);
    return;
  }
  polling = null;
  if (job.state === 'done') {
    const all = (await (await fetch('models.json')).json()).models;
    const fresh = all.filter((m) => !models.some((o) => o.id === m.id));
    models.push(...fresh);
    showStyles(fresh);
    const learned = fresh.find((m) => m.label === job.name) || fresh[0];
    if (learned) selectStyle(learned);
    notice(`Learned ${job.name} in ${minutes(job.wall_s)}.`);
  }
}

async function learn(file) {
  const response = await fetch(`learn?filename=${encodeURIComponent(file.name)}`, {
    method: 'POST', body: file, headers: { 'Content-Type': file.type || 'application/octet-stream' },
  });
  const job = await response.json().catch(() => ({ message: `${response.status} ${response.statusText}` }));
  if (!response.ok) {
    notice(`Cannot learn ${file.name}: ${job.message}`);
    return;
  }
  notice('');
  showLearning(job);
  if (!polling) pollLearning();
}

// ---------------------------------------------------------------- controls

function snapshot() {
  if (!output.dataset.frames) return;
  output.toBlob((blob) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `rtstyle-${output.dataset.style}-${new Date().toISOString().replace(/[:.]/g, '-')}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }, 'image/png');
}

$('camera').addEventListener('change', (e) => startCamera(e.target.value));
$('file').addEventListener('change', (e) => e.target.files[0] && playFile(e.target.files[0]));
$('view').addEventListener('change', (e) => { $('stage').className = e.target.value; });
$('snapshot').addEventListener('click', snapshot);
document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dropping'); });
document.addEventListener('dragleave', () => document.body.classList.remove('dropping'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dropping');
  const file = e.dataTransfer.files[0];
  if (file) (file.type.startsWith('image/') ? learn(file) : playFile(file));
});
$('painting').addEventListener('change', (e) => e.target.files[0] && learn(e.target.files[0]));
$('learn-cancel').addEventListener('click', () => fetch('learn/cancel', { method: 'POST' }));

models = (await (await fetch('models.json')).json()).models;
showStyles();
if (models.length) selectStyle(models[0]);
startCamera();
run();
fetch('learn').then((r) => r.json()).then((job) => {
  if (job.state === 'disabled') $('painting').parentElement.hidden = true; // serve --no-learn
  else if (job.state === 'running') pollLearning();
});
