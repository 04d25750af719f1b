// rtstyle serve: live style transfer in the browser with onnxruntime-web (the global `ort`).
// Each model takes image: float32 [1, 3, H, W], RGB in 0-255, H and W multiples of the
// model's `multiple`, and gives stylized: the same shape, 0-255.

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

// A cheap stand-in for rtstyle's Stabilizer (stabilizer.py), which carries past output
// with optical flow. Here there is no flow: the frame is cut into CELL x CELL cells, and
// where a cell's mean gray level moved less than TOL since the last frame, the previous
// output is blended in (out = y + STRENGTH * trust * (previous - y); trust 1 under TOL,
// 0 at 2 TOL, interpolated bilinearly between cell centres). Still parts stop flickering;
// moving parts show the network's output as it is. A cut (mean change over CUT) resets.
const CELL = 8, TOL = 4, CUT = 40, STRENGTH = 0.65;

const stabilizer = {
  key: '', // model and frame size: a change of either starts afresh
  gray: null,
  previous: null,
  apply(key, x, y, w, h) { // blends into y, the network's output, in place
    const n = w * h, gw = Math.ceil(w / CELL), gh = Math.ceil(h / CELL);
    const gray = new Float32Array(gw * gh), count = new Float32Array(gw * gh);
    for (let py = 0; py < h; py++) {
      for (let px = 0; px < w; px++) {
        const i = py * w + px, c = ((py / CELL) | 0) * gw + ((px / CELL) | 0);
        gray[c] += 0.299 * x[i] + 0.587 * x[n + i] + 0.114 * x[2 * n + i];
        count[c]++;
      }
    }
    for (let c = 0; c < gray.length; c++) gray[c] /= count[c];
    const { gray: before, previous } = this, fresh = key !== this.key;
    Object.assign(this, { key, gray, previous: y });
    if (fresh) return;
    const trust = new Float32Array(gray.length);
    let change = 0;
    for (let c = 0; c < gray.length; c++) {
      const d = Math.abs(gray[c] - before[c]);
      change += d;
      trust[c] = Math.min(1, Math.max(0, 2 - d / TOL));
    }
    if (change / gray.length > CUT) return;
    const at = (v, size) => Math.min(Math.max((v + 0.5) / CELL - 0.5, 0), size - 1);
    for (let py = 0; py < h; py++) {
      const v = at(py, gh), j0 = Math.floor(v), j1 = Math.min(j0 + 1, gh - 1), fv = v - j0;
      for (let px = 0; px < w; px++) {
        const u = at(px, gw), i0 = Math.floor(u), i1 = Math.min(i0 + 1, gw - 1), fu = u - i0;
        const t = (1 - fv) * ((1 - fu) * trust[j0 * gw + i0] + fu * trust[j0 * gw + i1])
                + fv * ((1 - fu) * trust[j1 * gw + i0] + fu * trust[j1 * gw + i1]);
        if (t === 0) continue;
        const k = STRENGTH * t;
        for (let i = py * w + px; i < 3 * n; i += n) y[i] += k * (previous[i] - y[i]);
      }
    }
  },
};

// ---------------------------------------------------------------- the frame loop

// Frames drawn per second and inference time, both smoothed over the last ten frames or so.
const meter = {
  last: 0,
  interval: 0,
  ms: 0,
  tick(ms, size) {
    const now = performance.now(), ema = (a, b) => (a ? 0.9 * a + 0.1 * b : b);
    if (this.last) this.interval = ema(this.interval, now - this.last);
    this.last = now;
    this.ms = ema(this.ms, ms);
    if (this.interval) $('fps').textContent = `${(1000 / this.interval).toFixed(1)} fps, ${this.ms.toFixed(0)} ms inference, ${size}`;
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
  const y = result[session.outputNames[0]].data;
  if ($('stabilize').checked) stabilizer.apply(`${model.id} ${w}x${h}`, x, y, w, h);
  else stabilizer.key = '';
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

  meter.tick(ms, `${w}x${h}`);
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
