// The device console (`counterkit serve --listen 127.0.0.1:PORT --ui`, then /ui/): built only on the JavaScript
// client. Simplified Chinese by default, English by the switch. The token is kept for this tab only (sessionStorage).
import { CounterKit, CounterKitError } from '/v1/client.js';

const texts = {
  zh: {
    title: 'CounterKit 设备控制台', token: '令牌', connect: '连接', devices: '设备', refresh: '刷新', scan: '扫描',
    startScan: '开始扫描', cancel: '取消', camera: '摄像头', preview: '预览', stopPreview: '停止预览', capture: '拍照',
    signature: '签名', startSignature: '开始签名', clear: '清除', finish: '完成', attachments: '附件', language: 'English',
    noDevices: '没有设备', scanning: '扫描中', rows: '行', done: '完成', failed: '失败', download: '下载', remove: '删除',
    manifest: '清单', signing: '请在签名板上签名', needToken: '请输入令牌（技术人员运行 counterkit pair 获得）', connected: '已连接',
    previewing: '预览中', captured: '已拍照', finished: '已完成', cancelled: '已取消', busy: '设备忙', scanner: '扫描仪', signature_pad: '签名板',
  },
  en: {
    title: 'CounterKit device console', token: 'Token', connect: 'Connect', devices: 'Devices', refresh: 'Refresh', scan: 'Scan',
    startScan: 'Scan', cancel: 'Cancel', camera: 'Camera', preview: 'Preview', stopPreview: 'Stop preview', capture: 'Capture',
    signature: 'Signature', startSignature: 'Start signature', clear: 'Clear', finish: 'Finish', attachments: 'Attachments',
    language: '中文', noDevices: 'No devices', scanning: 'Scanning', rows: 'rows', done: 'Done', failed: 'Failed',
    download: 'Download', remove: 'Delete', manifest: 'Manifest', signing: 'Sign on the pad', connected: 'Connected',
    needToken: 'Enter the token (a technician gets one with counterkit pair)', previewing: 'Previewing', captured: 'Captured',
    finished: 'Finished', cancelled: 'Cancelled', busy: 'Device busy', scanner: 'scanner', signature_pad: 'signature pad',
  },
};
let language = new URLSearchParams(location.search).get('lang') === 'en' ? 'en' : 'zh';
const t = (key) => texts[language][key] ?? key;
const $ = (id) => document.getElementById(id);

function applyLanguage() {
  document.documentElement.lang = language === 'zh' ? 'zh-CN' : 'en';
  for (const element of document.querySelectorAll('[data-text]')) element.textContent = t(element.dataset.text);
  $('language').textContent = t('language');
  document.title = t('title');
}

const client = new CounterKit({ baseUrl: location.origin, token: sessionStorage.getItem('counterkit-token') ?? undefined });

function showError(error) {
  const box = $('error');
  box.textContent = error instanceof CounterKitError ? `${error.code}: ${error.message}` : String(error?.message ?? error);
  box.classList.add('shown');
}
function clearError() { $('error').classList.remove('shown'); }
/** Runs an action; an error is shown plainly in the banner, never only in the browser's console. */
const guarded = (action) => async (...args) => {
  clearError();
  try { await action(...args); } catch (error) { showError(error); }
};

function fillSelect(select, devices) {
  select.replaceChildren(...devices.map((device) => new Option(`${device.vendor} ${device.model} (${device.id})`, device.id)));
}

async function loadDevices(refresh = false) {
  const { devices } = await client.devices({ refresh });
  const rows = devices.map((device) => {
    const row = document.createElement('tr');
    for (const text of [t(device.kind === 'camera' ? 'camera' : device.kind), device.id, `${device.vendor} ${device.model}`, device.busy ? t('busy') : '']) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  });
  $('devices').replaceChildren(...(rows.length ? rows : [Object.assign(document.createElement('tr'), { textContent: t('noDevices') })]));
  fillSelect($('scanner'), devices.filter((device) => device.kind === 'scanner'));
  fillSelect($('camera'), devices.filter((device) => device.kind === 'camera'));
  fillSelect($('pad'), devices.filter((device) => device.kind === 'signature_pad'));
}

let scanControl;
async function scan() {
  const canvas = $('scan-rows');
  const context = canvas.getContext('2d');
  const width = 300;
  let drawn = 0;
  let drawing = Promise.resolve();
  const drawBand = async (band) => {
    const image = await createImageBitmap(new Blob([Uint8Array.from(atob(band.image), (c) => c.charCodeAt(0))], { type: 'image/jpeg' }));
    const bottom = band.y + image.height;
    if (bottom > canvas.height) {
      // Growing the canvas clears it: keep what is drawn.
      const kept = context.getImageData(0, 0, canvas.width, canvas.height);
      canvas.height = bottom;
      context.putImageData(kept, 0, 0);
    }
    context.drawImage(image, 0, band.y);
    drawn += band.lines;
    canvas.dataset.rows = String(drawn);
    $('scan-status').textContent = `${t('scanning')}: ${drawn} ${t('rows')}`;
  };
  canvas.width = width;
  canvas.height = 10;
  scanControl = new AbortController();
  $('scan').disabled = true;
  $('cancel-scan').disabled = false;
  $('scan-status').textContent = t('scanning');
  try {
    const job = await client.scan({
      device: $('scanner').value || undefined, resolution: Number($('resolution').value), format: $('format').value,
      live: { width },
    }, {
      signal: scanControl.signal,
      onProgress: (progress) => {
        const fraction = progress.progress?.jobFraction ?? progress.progress?.fraction;
        if (fraction !== undefined) $('scan-status').textContent = `${t('scanning')} ${Math.round(fraction * 100)}%`;
      },
      // Bands are drawn in order, one after another (decoding is asynchronous).
      onRows: (band) => { drawing = drawing.then(() => drawBand(band)); },
    });
    await drawing;
    $('scan-status').textContent = `${t('done')}: ${job.attachments.map((attachment) => attachment.fileName).join(', ')}`;
    await loadAttachments();
  } catch (error) {
    $('scan-status').textContent = t('failed');
    throw error;
  } finally {
    $('scan').disabled = false;
    $('cancel-scan').disabled = true;
  }
}

let previewing;
async function togglePreview() {
  if (previewing) {
    previewing.stop();
    previewing = undefined;
    $('preview-frames').textContent = '';
    $('preview').textContent = t('preview');
    $('capture').disabled = true;
    return;
  }
  const camera = $('camera').value;
  if (!camera) throw new CounterKitError('device_not_found', t('noDevices'));
  let frames = 0;
  previewing = await client.preview(camera, {
    size: '640x480', canvas: $('preview-canvas'),
    onFrame: () => { frames += 1; $('preview-frames').textContent = `${t('previewing')}: ${frames}`; $('preview-canvas').dataset.frames = String(frames); },
  });
  $('preview').textContent = t('stopPreview');
  $('capture').disabled = false;
  previewing.done.catch(showError);
}

async function capture() {
  const job = await client.photo({ device: $('camera').value, format: 'jpeg' });
  $('camera-status').textContent = `${t('captured')}: ${job.attachments[0]?.fileName ?? ''}`;
  await loadAttachments();
}

let session;
async function sign() {
  const canvas = $('ink');
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, canvas.width, canvas.height);
  session = await client.startSignature({ prompt: t('signing') });
  $('sign-status').textContent = t('signing');
  $('clear-ink').disabled = false;
  $('finish-sign').disabled = false;
  const width = session.pad?.areaWidth || 100;
  const height = session.pad?.areaHeight || 40;
  const scale = Math.min(canvas.width / width, canvas.height / height);
  let last;
  let points = 0;
  for await (const event of client.signatureEvents(session.id)) {
    if (event.name === 'cleared') { context.clearRect(0, 0, canvas.width, canvas.height); last = undefined; }
    if (event.name === 'points') {
      for (const [, x, y, pressure, touching] of event.data.points) {
        if (touching && last) {
          context.lineWidth = 0.5 + 2.5 * pressure;
          context.beginPath();
          context.moveTo(last[0] * scale, last[1] * scale);
          context.lineTo(x * scale, y * scale);
          context.stroke();
        }
        last = touching ? [x, y] : undefined;
        points += 1;
      }
      canvas.dataset.points = String(points);
    }
    if (event.name === 'ended') {
      canvas.dataset.state = event.data.state;
      $('sign-status').textContent = `${t(event.data.state)}${event.data.error ? `: ${event.data.error.code} ${event.data.error.message}` : ''}`;
      break;
    }
  }
  $('clear-ink').disabled = true;
  $('finish-sign').disabled = true;
  await loadAttachments();
}

async function loadAttachments() {
  const attachments = (await client.attachments()).sort((a, b) => (b.storedAt ?? '').localeCompare(a.storedAt ?? ''));
  const rows = await Promise.all(attachments.slice(0, 30).map(async (attachment) => {
    const row = document.createElement('tr');
    row.dataset.id = attachment.id;
    const preview = document.createElement('td');
    if (attachment.mediaType?.startsWith('image/') && !attachment.mediaType.includes('svg')) {
      const image = document.createElement('img');
      image.className = 'thumb';
      image.width = 96;
      image.alt = attachment.fileName;
      image.src = URL.createObjectURL(await client.attachment(attachment.id));
      preview.append(image);
    } else {
      preview.textContent = attachment.format.toUpperCase();
    }
    const about = document.createElement('td');
    about.textContent = `${attachment.fileName} · ${attachment.byteCount} B · ${attachment.device ?? ''}`;
    const manifest = document.createElement('details');
    manifest.append(Object.assign(document.createElement('summary'), { textContent: t('manifest') }),
      Object.assign(document.createElement('pre'), { textContent: JSON.stringify(attachment, null, 2) }));
    about.append(manifest);
    const actions = document.createElement('td');
    const download = Object.assign(document.createElement('button'), { textContent: t('download') });
    download.addEventListener('click', guarded(async () => {
      const link = Object.assign(document.createElement('a'), {
        href: URL.createObjectURL(await client.attachment(attachment.id)), download: attachment.fileName,
      });
      link.click();
    }));
    const remove = Object.assign(document.createElement('button'), { textContent: t('remove') });
    remove.addEventListener('click', guarded(async () => { await client.deleteAttachment(attachment.id); await loadAttachments(); }));
    actions.append(download, remove);
    row.append(preview, about, actions);
    return row;
  }));
  $('attachments').replaceChildren(...rows);
}

async function connect() {
  const token = $('token').value.trim();
  if (token) {
    client.token = token;
    sessionStorage.setItem('counterkit-token', token);
  }
  if (!client.token) throw new CounterKitError('unauthorized', t('needToken'));
  await client.health();
  document.body.dataset.connected = 'true';
  await loadDevices();
  await loadAttachments();
}

$('language').addEventListener('click', guarded(async () => {
  language = language === 'zh' ? 'en' : 'zh';
  applyLanguage();
  if (document.body.dataset.connected === 'true') await loadAttachments();
}));
$('connect').addEventListener('click', guarded(connect));
$('refresh').addEventListener('click', guarded(() => loadDevices(true)));
$('scan').addEventListener('click', guarded(scan));
$('cancel-scan').addEventListener('click', () => scanControl?.abort());
$('preview').addEventListener('click', guarded(togglePreview));
$('capture').addEventListener('click', guarded(capture));
$('sign').addEventListener('click', guarded(sign));
$('clear-ink').addEventListener('click', guarded(() => client.clearSignature(session.id)));
$('finish-sign').addEventListener('click', guarded(() => client.finishSignature(session.id)));
$('reload-attachments').addEventListener('click', guarded(loadAttachments));
applyLanguage();
if (client.token) guarded(connect)();
