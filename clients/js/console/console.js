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
    tokenHint: '尚未连接。技术人员在本机运行下面的命令，把它最后一行的令牌粘贴到“令牌”框，再点“连接”：',
    wholeBed: '整个扫描面', idCard: '身份证', color: '彩色', gray: '灰度', lineart: '黑白',
    clamped: (asked, got) => `扫描面小于所选纸张：要求 ${asked} 毫米，实际扫描 ${got} 毫米`,
    noCamera: '没有摄像头：请连接摄像头后点击“刷新”', noScanner: '没有扫描仪：请连接扫描仪后点击“刷新”',
    noPad: '没有签名板：请连接签名板后点击“刷新”', rejected: '令牌无效或已撤销，请重新获取令牌',
    kind: '类型', device: '设备', time: '时间', pages: '页数', size: '大小', checks: '检查',
    kind_scan: '扫描件', kind_photo: '照片', kind_signature: '签名', kind_document: '证件复印件', noAttachments: '没有附件',
    blank: '空白页', cropFound: '已裁切', noPage: '未找到页面', deskew: '纠斜', colorMode: '颜色', paper: '纸张', clampedShort: '超出扫描面',
  },
  en: {
    title: 'CounterKit device console', token: 'Token', connect: 'Connect', devices: 'Devices', refresh: 'Refresh', scan: 'Scan',
    startScan: 'Scan', cancel: 'Cancel', camera: 'Camera', preview: 'Preview', stopPreview: 'Stop preview', capture: 'Capture',
    signature: 'Signature', startSignature: 'Start signature', clear: 'Clear', finish: 'Finish', attachments: 'Attachments',
    language: '中文', noDevices: 'No devices', scanning: 'Scanning', rows: 'rows', done: 'Done', failed: 'Failed',
    download: 'Download', remove: 'Delete', manifest: 'Manifest', signing: 'Sign on the pad', connected: 'Connected',
    needToken: 'Enter the token (a technician gets one with counterkit pair)', previewing: 'Previewing', captured: 'Captured',
    finished: 'Finished', cancelled: 'Cancelled', busy: 'Device busy', scanner: 'scanner', signature_pad: 'signature pad',
    tokenHint: 'Not connected. A technician runs this command on this PC; paste the token from its last line into the Token field and press Connect:',
    wholeBed: 'Whole bed', idCard: 'ID card', color: 'Colour', gray: 'Grey', lineart: 'Black and white',
    clamped: (asked, got) => `The bed is smaller than the paper: asked for ${asked} mm, scanned ${got} mm`,
    noCamera: 'No camera: connect one, then press Refresh', noScanner: 'No scanner: connect one, then press Refresh',
    noPad: 'No signature pad: connect one, then press Refresh', rejected: 'The token was refused (wrong or revoked): get a new one',
    kind: 'Kind', device: 'Device', time: 'Time', pages: 'Pages', size: 'Size', checks: 'Checks',
    kind_scan: 'Scan', kind_photo: 'Photo', kind_signature: 'Signature', kind_document: 'ID card copy', noAttachments: 'No attachments',
    blank: 'blank page', cropFound: 'cropped', noPage: 'no page found', deskew: 'deskewed', colorMode: 'colour', paper: 'paper', clampedShort: 'clamped to the bed',
  },
};
let language = new URLSearchParams(location.search).get('lang') === 'en' ? 'en' : 'zh';
const t = (key, ...values) => {
  const text = texts[language][key] ?? key;
  return typeof text === 'function' ? text(...values) : text;
};
const $ = (id) => document.getElementById(id);

function applyLanguage() {
  document.documentElement.lang = language === 'zh' ? 'zh-CN' : 'en';
  for (const element of document.querySelectorAll('[data-text]')) element.textContent = t(element.dataset.text);
  $('language').textContent = t('language');
  $('pair-command').textContent = `counterkit pair ${location.origin}`;
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

/** The devices last listed, kept so that a language switch can show them again without asking the service. */
let listedDevices = [];
async function loadDevices(refresh = false) {
  listedDevices = (await client.devices({ refresh })).devices;
  showDevices();
}

/** A kind's missing-device message beside its controls (empty when one is there). */
function showMissing(devices, kind, statusId, key) {
  if (document.body.dataset.connected !== 'true') return;
  const status = $(statusId);
  const missing = !devices.some((device) => device.kind === kind);
  if (missing) { status.textContent = t(key); status.dataset.missing = 'true'; }
  else if (status.dataset.missing) { status.textContent = ''; delete status.dataset.missing; }
}

function showDevices() {
  const devices = listedDevices;
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
  showMissing(devices, 'scanner', 'scan-status', 'noScanner');
  showMissing(devices, 'camera', 'camera-status', 'noCamera');
  showMissing(devices, 'signature_pad', 'sign-status', 'noPad');
}

/** Everything a connection showed goes: a refused token must not leave the last user's devices and attachments. */
function disconnect() {
  document.body.dataset.connected = 'false';
  listedDevices = [];
  $('devices').replaceChildren();
  for (const id of ['scanner', 'camera', 'pad']) $(id).replaceChildren();
  for (const id of ['scan-status', 'scan-notice', 'camera-status', 'sign-status']) { $(id).textContent = ''; delete $(id).dataset.missing; }
  $('attachments').tBodies[0].replaceChildren();
  // The last scan's rows, the last photo's preview and the last signature's ink go too (resizing clears a canvas).
  $('scan-rows').height = 10;
  delete $('scan-rows').dataset.rows;
  for (const id of ['preview-canvas', 'ink']) $(id).width = $(id).width;
  if (previewing) { previewing.stop(); previewing = undefined; $('preview').textContent = t('preview'); $('preview-frames').textContent = ''; }
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
  $('scan-notice').textContent = '';
  try {
    const job = await client.scan({
      device: $('scanner').value || undefined, resolution: Number($('resolution').value), format: $('format').value,
      paper: $('paper').value || undefined, mode: $('mode').value,
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
    // A paper the bed cannot hold is scanned as far as the bed goes: say so, with what was asked and what was scanned.
    const clamped = job.attachments.find((attachment) => attachment.settings?.clamped === 'true');
    if (clamped) {
      const size = (area) => area.split(',').slice(2).map((mm) => Math.round(Number(mm))).join('×');
      $('scan-notice').textContent = t('clamped', size(clamped.settings.requestedArea), size(clamped.settings.area));
    }
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
  if (!camera) {
    $('camera-status').textContent = t('noCamera');
    $('camera-status').dataset.missing = 'true';
    return;
  }
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

/** A byte count as people read it. */
function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The document stages' verdicts and a clamped scan area, from an attachment's settings, as short labelled chips. */
function verdicts(settings = {}) {
  const chips = [];
  const add = (text, warn = false) => chips.push(Object.assign(document.createElement('span'), { className: warn ? 'chip warn' : 'chip', textContent: text }));
  for (const [key, value] of Object.entries(settings)) {
    const stage = key.replace(/^document\.(page\d+\.)?/, 'document.');
    const page = key.match(/^document\.page(\d+)\./)?.[1];
    const prefix = page ? `p${page} ` : '';
    if (stage === 'document.blank' && value === 'true') add(prefix + t('blank'), true);
    if (stage === 'document.crop' && value === 'found') add(prefix + t('cropFound'));
    if (stage === 'document.crop' && value.startsWith('no_document')) add(prefix + t('noPage'), true);
    if (stage === 'document.paper') add(`${prefix}${t('paper')} ${value}`);
    if (stage === 'document.deskew' && value !== '0') add(`${prefix}${t('deskew')} ${value}°`);
    if (stage === 'document.color') add(`${prefix}${t('colorMode')} ${t(value.split(' ')[0])}`);
  }
  if (settings.clamped === 'true') add(t('clampedShort'), true);
  return chips;
}

async function loadAttachments() {
  const attachments = (await client.attachments())
    .sort((a, b) => (b.storedAt ?? b.capturedAt ?? '').localeCompare(a.storedAt ?? a.capturedAt ?? ''));
  const cell = (...content) => { const td = document.createElement('td'); td.append(...content); return td; };
  const rows = await Promise.all(attachments.slice(0, 30).map(async (attachment) => {
    const row = document.createElement('tr');
    row.dataset.id = attachment.id;
    row.dataset.kind = attachment.kind;
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
    const kind = cell(`${t(`kind_${attachment.kind}`)} · ${attachment.format.toUpperCase()}`);
    kind.className = 'kind';
    const time = cell(new Date(attachment.capturedAt).toLocaleString(language === 'zh' ? 'zh-CN' : 'en-GB'));
    time.className = 'time';
    const manifest = document.createElement('details');
    manifest.append(Object.assign(document.createElement('summary'), { textContent: t('manifest') }),
      Object.assign(document.createElement('pre'), { textContent: JSON.stringify(attachment, null, 2) }));
    const checks = cell(...verdicts(attachment.settings), manifest);
    checks.className = 'checks';
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
    const pages = cell(String(attachment.pages ?? 1));
    pages.className = 'pages';
    const size = cell(formatSize(attachment.byteCount));
    size.className = 'size';
    size.title = `${attachment.byteCount} B`;
    const device = cell(attachment.device ?? '');
    device.className = 'device';
    row.append(preview, kind, device, time, pages, size, checks, actions);
    return row;
  }));
  const empty = Object.assign(document.createElement('tr'), { textContent: t('noAttachments') });
  $('attachments').tBodies[0].replaceChildren(...(rows.length ? rows : [empty]));
}

async function connect() {
  const token = $('token').value.trim();
  if (token) {
    client.token = token;
    sessionStorage.setItem('counterkit-token', token);
  }
  if (!client.token) throw new CounterKitError('unauthorized', t('needToken'));
  try {
    await client.health();
    document.body.dataset.connected = 'true';
    await loadDevices();
    await loadAttachments();
  } catch (error) {
    // A refused token clears the screen and is forgotten; other failures (the service gone) leave what was shown.
    if (error instanceof CounterKitError && error.code === 'unauthorized') {
      disconnect();
      sessionStorage.removeItem('counterkit-token');
      throw new CounterKitError('unauthorized', t('rejected'));
    }
    throw error;
  }
}

$('language').addEventListener('click', guarded(async () => {
  language = language === 'zh' ? 'en' : 'zh';
  applyLanguage();
  if (document.body.dataset.connected === 'true') {
    showDevices();
    await loadAttachments();
  }
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
