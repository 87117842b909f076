// CounterKit's JavaScript client: the device service's API for web pages (through the loopback bridge,
// `counterkit serve --listen 127.0.0.1:PORT`) and for Node. An ES module with no dependencies; the service serves
// this file at GET /v1/client.js. The token always travels in the Authorization header, never in a URL.

/** An API error: the service's stable `code`, its message, and the HTTP status. */
export class CounterKitError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = 'CounterKitError';
    this.code = code;
    this.status = status;
  }
}

const finished = new Set(['completed', 'failed', 'cancelled']);

/** A client of one CounterKit service. */
export class CounterKit {
  /**
   * @param {object} options
   * @param {string} [options.baseUrl] the bridge, e.g. http://127.0.0.1:8990 (default: where this file was served from)
   * @param {string} [options.token] the token `counterkit pair ORIGIN` printed
   * @param {typeof fetch} [options.fetch]
   */
  constructor({ baseUrl, token, fetch: fetchFunction } = {}) {
    this.baseUrl = (baseUrl ?? CounterKit.servedFrom()).replace(/\/+$/, '');
    this.token = token;
    this.fetchFunction = fetchFunction ?? globalThis.fetch.bind(globalThis);
  }

  /** The origin this module was loaded from, when it came from a service. */
  static servedFrom() {
    try {
      const url = new URL(import.meta.url);
      if (url.pathname.endsWith('/v1/client.js')) return url.origin;
    } catch { /* not loaded from a URL */ }
    return 'http://127.0.0.1:8990';
  }

  /** A raw request; resolves to the Response, or throws CounterKitError for a status of 400 or more. */
  async request(method, path, { body, raw, headers = {}, signal } = {}) {
    const init = { method, headers: { ...headers }, signal };
    if (this.token) init.headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    } else if (raw !== undefined) {
      init.body = raw;  // bytes as they are, with the caller's Content-Type
    }
    let response;
    try {
      response = await this.fetchFunction(this.baseUrl + path, init);
    } catch (error) {
      if (error?.name === 'AbortError') throw error;
      throw new CounterKitError('unreachable', `the service at ${this.baseUrl} cannot be reached: ${error?.message ?? error}`);
    }
    if (response.status >= 400) throw await CounterKit.errorOf(response);
    return response;
  }

  static async errorOf(response) {
    let code = 'http_' + response.status;
    let message = response.statusText || `HTTP ${response.status}`;
    try {
      const body = await response.json();
      if (body?.error?.code) ({ code, message } = body.error);
    } catch { /* not the API's error body */ }
    return new CounterKitError(code, message, response.status);
  }

  async json(method, path, options) {
    const response = await this.request(method, path, options);
    return response.status === 204 ? null : response.json();
  }

  /** GET /v1/health. */
  health() { return this.json('GET', '/v1/health'); }

  /** The devices (scanners, cameras, signature pads); `refresh` renews the discovery cache. */
  async devices({ refresh = false } = {}) {
    return this.json('GET', '/v1/devices' + (refresh ? '?refresh=true' : ''));
  }

  /** One device's capabilities. */
  device(id) { return this.json('GET', `/v1/devices/${encodeURIComponent(id)}`); }

  /** Starts a scan job; resolves to the job as accepted (202). */
  startScan(request, { queue = false } = {}) {
    return this.json('POST', '/v1/scans' + (queue ? '?queue=true' : ''), { body: request });
  }

  /** Starts a photo job. */
  startPhoto(request, { queue = false } = {}) {
    return this.json('POST', '/v1/photos' + (queue ? '?queue=true' : ''), { body: request });
  }

  /**
   * Scans and resolves to the finished job (its `attachments`); rejects with CounterKitError when it fails.
   * `onProgress(job)` gets progress, `onRows(band)` live bands when `request.live` is set, `onPage(job)` each page.
   */
  async scan(request, handlers = {}) {
    return this.runJob(await this.startScan(request, handlers), handlers);
  }

  /** Takes a photo; resolves to the finished job, like `scan`. */
  async photo(request, handlers = {}) {
    return this.runJob(await this.startPhoto(request, handlers), handlers);
  }

  async runJob(job, { onProgress, onRows, onPage, onEvent, signal } = {}) {
    let last = job;
    const abort = () => { this.cancelJob(job.id).catch(() => {}); };
    signal?.addEventListener('abort', abort, { once: true });
    try {
      for await (const event of this.events(`/v1/jobs/${job.id}/events`, { signal })) {
        onEvent?.(event);
        if (event.name === 'rows') { onRows?.(event.data); continue; }
        last = event.data;
        if (event.name === 'progress') onProgress?.(last);
        if (event.name === 'page') onPage?.(last);
        if (finished.has(event.name)) break;
      }
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    if (!finished.has(last.state)) last = await this.job(job.id);
    if (last.state !== 'completed') {
      const error = new CounterKitError(last.error?.code ?? last.state, last.error?.message ?? `the job was ${last.state}`);
      error.job = last;
      throw error;
    }
    return last;
  }

  /** A job's state. */
  job(id) { return this.json('GET', `/v1/jobs/${id}`); }

  /** Every job the service remembers. */
  async jobs() { return (await this.json('GET', '/v1/jobs')).jobs; }

  /** Cancels a job (202 while it stops, 200 once ended). */
  cancelJob(id) { return this.json('DELETE', `/v1/jobs/${id}`); }

  /** Server-sent events of `path` as `{name, id, data}` (data parsed as JSON), read through fetch streaming. */
  async *events(path, { signal } = {}) {
    const response = await this.request('GET', path, { headers: { Accept: 'text/event-stream' }, signal });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = { name: 'message', id: undefined, data: '' };
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.name = text;
            else if (field === 'id') event.id = text;
            else if (field === 'data') event.data += (event.data ? '\n' : '') + text;
          }
          try { event.data = JSON.parse(event.data); } catch { /* not JSON: kept as text */ }
          yield event;
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  /**
   * A camera's live preview. Each frame's JPEG bytes go to `onFrame(bytes, info)`; with `canvas` (a browser's
   * HTMLCanvasElement) each frame is drawn into it. Resolves to `{ stop(), done }`; `done` settles when the stream ends.
   */
  async preview(deviceId, { size, fps, quality, canvas, onFrame, signal } = {}) {
    const query = new URLSearchParams();
    if (size) query.set('size', size);
    if (fps) query.set('fps', String(fps));
    if (quality) query.set('quality', String(quality));
    const controller = new AbortController();
    signal?.addEventListener('abort', () => controller.abort(), { once: true });
    const path = `/v1/devices/${encodeURIComponent(deviceId)}/preview` + (query.size ? `?${query}` : '');
    const response = await this.request('GET', path, { signal: controller.signal });
    const boundary = /boundary=([^;]+)/.exec(response.headers.get('content-type') ?? '')?.[1] ?? 'counterkit-preview-frame';
    const context = canvas?.getContext('2d');
    const done = (async () => {
      try {
        for await (const part of multipartParts(response.body, boundary)) {
          const info = { size: part.headers['x-frame-size'], sequence: Number(part.headers['x-frame-sequence']) };
          onFrame?.(part.body, info);
          if (context) {
            const bitmap = await createImageBitmap(new Blob([part.body], { type: 'image/jpeg' }));
            if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
              canvas.width = bitmap.width;
              canvas.height = bitmap.height;
            }
            context.drawImage(bitmap, 0, 0);
            bitmap.close?.();
          }
        }
      } catch (error) {
        if (error?.name !== 'AbortError') throw error;
      }
    })();
    return { stop: () => controller.abort(), done };
  }

  /** Stores a PDF for a citizen to sign (a Uint8Array, ArrayBuffer or Blob): resolves to its manifest (kind `upload`);
   * a malformed, damaged or encrypted file is refused with `invalid_document`. */
  uploadDocument(pdf) {
    return this.json('POST', '/v1/attachments', { raw: pdf, headers: { 'Content-Type': 'application/pdf' } });
  }

  /** An attachment's data (a Uint8Array): a signed document's PDF, a scan's JPEG. */
  async attachmentData(id) {
    const response = await this.request('GET', `/v1/attachments/${id}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Starts a signature session on a pad (201). With `document: {attachment, page, rect, reason, name, color}` the
   * citizen signs that PDF: finishing stores a `signed-document` attachment besides the four signature files. */
  startSignature(request = {}) { return this.json('POST', '/v1/signatures', { body: request }); }

  /** A session's state; `samples` adds the pen samples so far. */
  signature(id, { samples = false } = {}) { return this.json('GET', `/v1/signatures/${id}` + (samples ? '?samples=true' : '')); }

  /** A session's events: `state`, `points` (data.points: [t ms, x mm, y mm, pressure, touching]), `cleared`, `ended`. */
  signatureEvents(id, options) { return this.events(`/v1/signatures/${id}/events`, options); }

  /** Clears the ink. */
  clearSignature(id) { return this.json('POST', `/v1/signatures/${id}/clear`); }

  /** Finishes the session: its PNG, SVG, ISO 19794-7 and JSON attachments are stored. */
  finishSignature(id) { return this.json('POST', `/v1/signatures/${id}/finish`); }

  /** Cancels the session. */
  cancelSignature(id) { return this.json('DELETE', `/v1/signatures/${id}`); }

  /** Every stored attachment's manifest. */
  async attachments() { return (await this.json('GET', '/v1/attachments')).attachments; }

  /** One attachment's manifest. */
  manifest(id) { return this.json('GET', `/v1/attachments/${id}/manifest`); }

  /** One attachment's manifest exactly as stored (a Uint8Array): in a sealed spool, the bytes its signature covers. */
  async manifestBytes(id) {
    const response = await this.request('GET', `/v1/attachments/${id}/manifest`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** An attachment's envelope for the back office (CMS DER, a Uint8Array): what `openssl cms -decrypt` opens. */
  async sealed(id) {
    const response = await this.request('GET', `/v1/attachments/${id}/sealed`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** The counter key's signature over an attachment's manifest: `{algorithm, keyId, signature}` (base64). */
  attachmentSignature(id) { return this.json('GET', `/v1/attachments/${id}/signature`); }

  /** The counter key's certificate chain (PEM text, the counter's certificate first). */
  async certificateChain() {
    const response = await this.request('GET', '/v1/seal/certificate');
    return response.text();
  }

  /** The audit log's entries after `since` (sealed spools): `{entries, lines, head}`; `lines` are the stored lines,
   * byte for byte, for a verifier; `head` is `{seq, sha256}` of the newest entry. */
  async audit({ since = 0 } = {}) {
    const response = await this.request('GET', `/v1/audit?since=${since}`);
    const text = await response.text();
    const lines = text.split('\n').filter((line) => line.length > 0);
    const [seq, sha256] = (response.headers.get('CounterKit-Audit-Head') || '0 ').split(' ');
    return { entries: lines.map((line) => JSON.parse(line)), lines, head: { seq: Number(seq), sha256 } };
  }

  /** One attachment's bytes as a Blob (typed by its media type). */
  async attachment(id, { signal } = {}) {
    const response = await this.request('GET', `/v1/attachments/${id}`, { signal });
    return response.blob();
  }

  /** Deletes an attachment. */
  async deleteAttachment(id) { await this.request('DELETE', `/v1/attachments/${id}`); }
}

/** The parts of a multipart/x-mixed-replace body, as `{headers, body}` (headers lowercased, body a Uint8Array). */
export async function* multipartParts(stream, boundary) {
  const reader = stream.getReader();
  const delimiter = new TextEncoder().encode(`--${boundary}`);
  let buffer = new Uint8Array(0);
  const append = (chunk) => {
    const joined = new Uint8Array(buffer.length + chunk.length);
    joined.set(buffer);
    joined.set(chunk, buffer.length);
    buffer = joined;
  };
  const more = async () => {
    const { value, done } = await reader.read();
    if (done) return false;
    append(value);
    return true;
  };
  try {
    for (;;) {
      let start = indexOf(buffer, delimiter, 0);
      while (start < 0 || indexOf(buffer, crlfcrlf, start) < 0) {
        if (!(await more())) return;
        start = indexOf(buffer, delimiter, 0);
      }
      const headerEnd = indexOf(buffer, crlfcrlf, start);
      const headerText = new TextDecoder().decode(buffer.subarray(start + delimiter.length, headerEnd));
      const headers = {};
      for (const line of headerText.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length']);
      if (!Number.isInteger(length) || length < 0) throw new CounterKitError('bad_stream', 'a preview part has no Content-Length');
      const bodyStart = headerEnd + 4;
      while (buffer.length < bodyStart + length) {
        if (!(await more())) return;
      }
      yield { headers, body: buffer.slice(bodyStart, bodyStart + length) };
      buffer = buffer.slice(bodyStart + length);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

const crlfcrlf = new Uint8Array([13, 10, 13, 10]);

function indexOf(haystack, needle, from) {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
