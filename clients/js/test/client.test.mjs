// The JavaScript client against a real CounterKit service (Node's built-in test runner). The Swift test
// JavaScriptClientTests starts the service with the SANE test backend, pairs an origin, and runs
//   COUNTERKIT_URL=http://127.0.0.1:PORT COUNTERKIT_TOKEN=… node --test clients/js/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { CounterKit, CounterKitError, multipartParts } from '../counterkit.js';

const baseUrl = process.env.COUNTERKIT_URL;
const token = process.env.COUNTERKIT_TOKEN;
// The counter key's public half (PEM), when the service seals its spool.
const sealKey = process.env.COUNTERKIT_SEAL_PUBLIC_KEY;
// The counter key's certificate chain the service was given (PEM), when it has one.
const sealChain = process.env.COUNTERKIT_SEAL_CHAIN;
const live = Boolean(baseUrl && token);
const client = new CounterKit({ baseUrl, token });

async function bytesOf(blob) { return new Uint8Array(await blob.arrayBuffer()); }
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

test('health answers with the token, and a wrong token is the API\'s unauthorized error', { skip: !live }, async () => {
  const health = await client.health();
  assert.equal(health.status, 'ok');
  assert.match(health.version, /^\d+\.\d+\.\d+/);
  const stranger = new CounterKit({ baseUrl, token: 'ckt_not-a-token' });
  await assert.rejects(stranger.health(), (error) => error instanceof CounterKitError && error.code === 'unauthorized' && error.status === 401);
  await assert.rejects(new CounterKit({ baseUrl }).devices(), (error) => error.code === 'unauthorized');
});

test('devices list the SANE test scanner', { skip: !live }, async () => {
  const { devices, errors } = await client.devices();
  assert.ok(Array.isArray(errors));
  const scanner = devices.find((device) => device.id === 'test:0');
  assert.ok(scanner, JSON.stringify(devices));
  assert.equal(scanner.kind, 'scanner');
  const detail = await client.device('test:0');
  assert.equal(detail.device.id, 'test:0');
  assert.ok(detail.capabilities.modes.includes('color'));
});

test('a scan reports progress and live rows, and its attachment downloads byte for byte', { skip: !live }, async () => {
  const bands = [];
  const progress = [];
  const job = await client.scan(
    { device: 'test:0', resolution: 75, paper: 'A5', format: 'jpeg', live: { width: 120 } },
    { onRows: (band) => bands.push(band), onProgress: (snapshot) => progress.push(snapshot) },
  );
  assert.equal(job.state, 'completed');
  assert.equal(job.attachments.length, 1);
  const [manifest] = job.attachments;
  assert.equal(manifest.mediaType, 'image/jpeg');
  // The bands tile the page, top to bottom, at the asked width; each is a JPEG.
  assert.ok(bands.length >= 1, 'rows arrived');
  let next = 0;
  for (const band of bands) {
    assert.equal(band.page, 1);
    assert.equal(band.width, 120);
    assert.equal(band.y, next);
    next += band.lines;
    const jpeg = Buffer.from(band.image, 'base64');
    assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
  }
  assert.equal(next, Math.round(manifest.pixelHeight * 120 / manifest.pixelWidth), 'every row arrived');
  assert.ok(progress.length >= 1);
  // The bytes are the manifest's: size, SHA-256, a whole JPEG.
  const bytes = await bytesOf(await client.attachment(manifest.id));
  assert.equal(bytes.length, manifest.byteCount);
  assert.equal(sha256(bytes), manifest.sha256);
  assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xd8]);
  assert.deepEqual([...bytes.subarray(-2)], [0xff, 0xd9]);
  const again = await client.manifest(manifest.id);
  assert.deepEqual(again, manifest);
  // Sealed: Node's crypto (OpenSSL), not our code, verifies the signature over the manifest's exact bytes.
  if (sealKey) {
    const manifestBytes = await client.manifestBytes(manifest.id);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(manifestBytes)), manifest);
    const sealed = await client.attachmentSignature(manifest.id);
    assert.equal(sealed.algorithm, 'ed25519');
    assert.equal(sealed.keyId, manifest.keyId);
    const signature = Buffer.from(sealed.signature, 'base64');
    assert.ok(verify(null, manifestBytes, sealKey, signature), 'the signature verifies');
    const altered = Uint8Array.from(manifestBytes);
    altered[10] ^= 1;
    assert.ok(!verify(null, altered, sealKey, signature), 'an altered manifest does not');
    assert.ok((await client.attachments()).every((attachment) => attachment.integrity === 'intact'));
    // The envelope for the back office: the bytes the signed manifest describes (openssl cms opens them in the
    // Swift tests).
    const envelope = await client.sealed(manifest.id);
    assert.equal(envelope.length, manifest.sealed.byteCount);
    assert.equal(sha256(envelope), manifest.sealed.sha256);
    assert.equal(envelope[0], 0x30, 'a DER SEQUENCE');
    // The audit log names the capture and the download, each line signed: Node verifies them as documented.
    const { entries, lines, head } = await client.audit();
    assert.ok(entries.some((entry) => entry.event === 'capture' && entry.attachment === manifest.id));
    assert.ok(entries.some((entry) => entry.event === 'download' && entry.attachment === manifest.id));
    assert.equal(head.seq, entries[entries.length - 1].seq);
    let prev = '0'.repeat(64);
    for (const line of lines) {
      const cut = line.lastIndexOf(',"signature":"');
      const signed = Buffer.from(line.slice(0, cut) + '}');
      const entrySignature = Buffer.from(line.slice(cut + 14, -2), 'base64');
      assert.ok(verify(null, signed, sealKey, entrySignature), `entry ${JSON.parse(line).seq} verifies`);
      assert.equal(JSON.parse(line).prev, prev);
      prev = createHash('sha256').update(line).digest('hex');
    }
    assert.equal(head.sha256, prev);
    const later = await client.audit({ since: head.seq - 1 });
    assert.deepEqual(later.lines, lines.slice(-1));
  }
  if (sealChain) {
    // The chain as configured; Node's X509 reads it, and its first certificate holds the key that signed.
    const chain = await client.certificateChain();
    assert.equal(chain, sealChain);
    const certificate = new X509Certificate(chain);
    assert.equal(certificate.publicKey.export({ type: 'spki', format: 'pem' }), createPublicKey(sealKey).export({ type: 'spki', format: 'pem' }));
    assert.ok(certificate.verify(certificate.publicKey), 'the self-signed certificate verifies with its own key');
  }
  assert.ok((await client.attachments()).some((attachment) => attachment.id === manifest.id));
  // Deleted, it is gone with the API's code.
  await client.deleteAttachment(manifest.id);
  await assert.rejects(client.manifest(manifest.id), (error) => error.code === 'not_found' && error.status === 404);
});

test('errors arrive as the API\'s codes', { skip: !live }, async () => {
  await assert.rejects(client.scan({ device: 'nonexistent:0' }), (error) => error.code === 'device_not_found' && error.status === 404);
  await assert.rejects(client.scan({ device: 'test:0', resolution: -5 }), (error) => error.status === 400 && typeof error.message === 'string');
  await assert.rejects(client.job('00000000-0000-0000-0000-000000000000'), (error) => error.code === 'job_not_found');
  const unreachable = new CounterKit({ baseUrl: 'http://127.0.0.1:9', token });
  await assert.rejects(unreachable.health(), (error) => error.code === 'unreachable');
});

/** A one-page PDF, written here byte by byte (objects, cross-reference table, trailer). */
function tinyPdf() {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>',
  ];
  let text = '%PDF-1.4\n';
  const offsets = objects.map((object, index) => {
    const offset = text.length;
    text += `${index + 1} 0 obj\n${object}\nendobj\n`;
    return offset;
  });
  const xref = text.length;
  text += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n` + offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('');
  text += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(text);
}

test('a PDF to sign is uploaded and read back byte for byte; a broken one and a bad placement are refused', { skip: !live }, async () => {
  const pdf = tinyPdf();
  const stored = await client.uploadDocument(pdf);
  assert.equal(stored.kind, 'upload');
  assert.equal(stored.format, 'pdf');
  assert.equal(stored.pages, 1);
  assert.equal(stored.sha256, sha256(pdf));
  assert.deepEqual(await client.attachmentData(stored.id), pdf);
  await assert.rejects(client.uploadDocument(new TextEncoder().encode('%PDF-1.4 broken')),
    (error) => error.code === 'invalid_document' && error.status === 400);
  // A page the document does not have is refused before any pad is opened (400, never a pad's error).
  await assert.rejects(client.startSignature({ document: { attachment: stored.id, page: 9, rect: [10, 10, 50, 20] } }),
    (error) => error.status === 400 && error.code === 'invalid_value', 'refused up front');
});

test('aborting a scan cancels the job, and the scanner is free again', { skip: !live }, async () => {
  const job = await client.startScan({ device: 'test:0', resolution: 100, options: { 'read-delay': true, 'read-delay-duration': 100000 } });
  assert.ok(['queued', 'running'].includes(job.state));
  const controller = new AbortController();
  const running = client.runJob(job, { signal: controller.signal, onEvent: () => controller.abort() });
  await assert.rejects(running, (error) => error.name === 'AbortError' || error.code === 'cancelled');
  let state;
  for (let i = 0; i < 100 && state !== 'cancelled'; i++) {
    state = (await client.job(job.id)).state;
    if (state !== 'cancelled') await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(state, 'cancelled');
  const next = await client.scan({ device: 'test:0', resolution: 50, paper: 'ID1', format: 'png' });
  assert.equal(next.state, 'completed');
  const png = await bytesOf(await client.attachment(next.attachments[0].id));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
});

test('multipart preview parts are split right whatever the chunking', async () => {
  const boundary = 'counterkit-preview-frame';
  const frames = [new Uint8Array([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]), new Uint8Array([0xff, 0xd8, 13, 10, 13, 10, 45, 45, 0xff, 0xd9])];
  const encoder = new TextEncoder();
  const parts = [];
  frames.forEach((frame, index) => {
    parts.push(encoder.encode(`--${boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: ${frame.length}\r\nX-Frame-Sequence: ${index + 1}\r\n\r\n`), frame, encoder.encode('\r\n'));
  });
  const whole = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) { whole.set(part, offset); offset += part.length; }
  for (const chunk of [1, 3, 7, 1000]) {
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < whole.length; i += chunk) controller.enqueue(whole.slice(i, i + chunk));
        controller.close();
      },
    });
    const got = [];
    for await (const part of multipartParts(stream, boundary)) got.push(part);
    assert.equal(got.length, 2, `chunks of ${chunk}`);
    assert.deepEqual(got.map((part) => [...part.body]), frames.map((frame) => [...frame]));
    assert.deepEqual(got.map((part) => part.headers['x-frame-sequence']), ['1', '2']);
  }
});
