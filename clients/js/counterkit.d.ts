// Type declarations for counterkit.js (served at GET /v1/client.d.ts). The shapes follow the API contract,
// api/openapi.json; fields not listed here may be present.

/** An API error with the service's stable code (`device_busy`, `unauthorized`, …) and the HTTP status. */
export declare class CounterKitError extends Error {
  constructor(code: string, message: string, status?: number);
  readonly code: string;
  readonly status: number;
  /** For a job that failed or was cancelled: the job as it ended. */
  job?: Job;
}

export interface Device { id: string; kind: 'scanner' | 'camera' | 'signature_pad'; vendor: string; model: string; type: string; busy: boolean }
export interface DeviceList { devices: Device[]; discoveredAt?: string; errors: { kind: string; code: string; message: string; node?: string }[] }
export interface Attachment {
  id: string; kind: string; format: string; mediaType: string; fileName: string; byteCount: number; sha256: string;
  pixelWidth?: number; pixelHeight?: number; dpi?: number; pages?: number; device?: string;
  capturedAt?: string; storedAt?: string; settings?: Record<string, string>;
  /** The counter key that signed the manifest (sealed spools). */
  keyId?: string;
  /** The data's SM3, in manifests an SM2 counter key signed. */
  sm3?: string;
  /** In listings: `broken` when its data, manifest or signature changed after it was stored. */
  integrity?: 'intact' | 'broken';
  /** The envelope made for the back office (`[seal] recipient`). */
  sealed?: { fileName: string; byteCount: number; sha256: string; recipient: string; encryption: 'aes-256-gcm' | 'sm4-cbc' };
  /** In listings, for sealed attachments: only the envelope is left (the plaintext retention ended). */
  sealedOnly?: boolean;
}
/** One line of the audit log. */
export interface AuditEntry {
  seq: number; time: string; event: 'start' | 'key' | 'capture' | 'download' | 'delete' | 'expire' | 'pairing';
  attachment?: string; detail: Record<string, string>; prev: string; keyId: string; algorithm: string; signature: string;
}
/** The counter key's signature over an attachment's manifest bytes. */
export interface AttachmentSignature { algorithm: 'ed25519' | 'ecdsa-p256-sha256'; keyId: string; signature: string }
export interface JobError { code: string; message: string }
export interface Job {
  id: string; kind: 'scan' | 'photo'; state: 'queued' | 'running' | 'cancelling' | 'completed' | 'failed' | 'cancelled';
  device?: string; attachments: Attachment[]; error?: JobError; progress?: Record<string, unknown>; [key: string]: unknown;
}
/** A live band of a scan: rows `y ..< y+lines` of the page, shrunk to `width`, as a base64 JPEG. */
export interface RowsBand { page: number; y: number; width: number; lines: number; image: string }
export interface ServerSentEvent<T = unknown> { name: string; id?: string; data: T }

/** Document stages for a capture: crop and straighten, clean, colour mode, blank pages, a size limit in bytes. */
export interface DocumentOptions {
  crop?: 'auto' | 'none'; clean?: boolean; color?: 'auto' | 'color' | 'gray' | 'bw'; blank?: 'drop' | 'flag'; maxBytes?: number;
}
export interface ScanRequest {
  device?: string; resolution?: number; mode?: 'color' | 'gray' | 'lineart'; source?: 'flatbed' | 'adf' | 'duplex';
  paper?: 'A4' | 'A5' | 'Letter' | 'ID1'; area?: { x: number; y: number; width: number; height: number };
  format?: 'png' | 'jpeg' | 'pdf' | 'pnm'; quality?: number; maxPages?: number; options?: Record<string, string | number | boolean>;
  timeout?: number; live?: { width: number }; document?: DocumentOptions;
}
export interface PhotoRequest {
  device?: string; size?: string; pixelFormat?: string; skip?: number; settle?: number;
  controls?: Record<string, string | number | boolean>; format?: 'jpeg' | 'png'; quality?: number; timeout?: number;
  document?: DocumentOptions;
}
export interface SignatureRequest { device?: string; prompt?: string; timeout?: number; size?: string; dpi?: number; document?: SignatureDocument }
/** The PDF a citizen signs: the attachment, the page (from 1) and the rectangle [x, y, width, height] in millimetres
 * from the page's top-left. */
export interface SignatureDocument { attachment: string; page: number; rect: [number, number, number, number]; reason?: string; name?: string; color?: string }
export interface SignatureSession { id: string; device: string; state: string; attachments?: Attachment[]; [key: string]: unknown }

export interface JobHandlers {
  onProgress?(job: Job): void;
  onRows?(band: RowsBand): void;
  onPage?(job: Job): void;
  onEvent?(event: ServerSentEvent): void;
  signal?: AbortSignal;
  queue?: boolean;
}

export interface PreviewOptions {
  size?: string; fps?: number; quality?: number;
  /** A canvas each frame is drawn into (browsers). */
  canvas?: HTMLCanvasElement;
  onFrame?(jpeg: Uint8Array, info: { size?: string; sequence: number }): void;
  signal?: AbortSignal;
}

export declare class CounterKit {
  constructor(options?: { baseUrl?: string; token?: string; fetch?: typeof fetch });
  baseUrl: string;
  token?: string;
  static servedFrom(): string;
  request(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Response>;
  health(): Promise<{ status: string; version: string; pid: number; uptimeSeconds: number; saneVersion?: string }>;
  devices(options?: { refresh?: boolean }): Promise<DeviceList>;
  device(id: string): Promise<Record<string, unknown>>;
  startScan(request: ScanRequest, options?: { queue?: boolean }): Promise<Job>;
  startPhoto(request: PhotoRequest, options?: { queue?: boolean }): Promise<Job>;
  scan(request: ScanRequest, handlers?: JobHandlers): Promise<Job>;
  photo(request: PhotoRequest, handlers?: JobHandlers): Promise<Job>;
  job(id: string): Promise<Job>;
  jobs(): Promise<Job[]>;
  cancelJob(id: string): Promise<Job>;
  events<T = unknown>(path: string, options?: { signal?: AbortSignal }): AsyncGenerator<ServerSentEvent<T>>;
  preview(deviceId: string, options?: PreviewOptions): Promise<{ stop(): void; done: Promise<void> }>;
  uploadDocument(pdf: Uint8Array | ArrayBuffer | Blob): Promise<Attachment>;
  attachmentData(id: string): Promise<Uint8Array>;
  startSignature(request?: SignatureRequest): Promise<SignatureSession>;
  signature(id: string, options?: { samples?: boolean }): Promise<SignatureSession>;
  signatureEvents(id: string, options?: { signal?: AbortSignal }): AsyncGenerator<ServerSentEvent>;
  clearSignature(id: string): Promise<SignatureSession>;
  finishSignature(id: string): Promise<SignatureSession>;
  cancelSignature(id: string): Promise<SignatureSession>;
  attachments(): Promise<Attachment[]>;
  manifest(id: string): Promise<Attachment>;
  manifestBytes(id: string): Promise<Uint8Array>;
  attachmentSignature(id: string): Promise<AttachmentSignature>;
  sealed(id: string): Promise<Uint8Array>;
  certificateChain(): Promise<string>;
  audit(options?: { since?: number }): Promise<{ entries: AuditEntry[]; lines: string[]; head: { seq: number; sha256: string } }>;
  attachment(id: string, options?: { signal?: AbortSignal }): Promise<Blob>;
  deleteAttachment(id: string): Promise<void>;
}

export declare function multipartParts(stream: ReadableStream<Uint8Array>, boundary: string):
  AsyncGenerator<{ headers: Record<string, string>; body: Uint8Array }>;
