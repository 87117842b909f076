/// The OpenAPI 3.1 description of the API, served at `GET /v1/openapi.json`.
/// A test checks that its paths and the router's routes agree both ways.
public enum OpenAPIDocument: Sendable {
    /// The document as JSON text.
    public static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "CounterKit device service",
    "version": "0.1.0",
    "description": "Scanners, cameras and signature pads for service-counter software, over HTTP/1.1 + JSON on a local Unix socket (`curl --unix-socket /run/counterkit/api.sock http://localhost/v1/health`). Errors are always `{\"error\": {\"code\", \"message\"}}` with a matching status; codes are stable."
  },
  "servers": [{"url": "http://localhost"}],
  "paths": {
    "/v1/health": {
      "get": {
        "operationId": "health", "summary": "Liveness and version",
        "responses": {"200": {"description": "The service is up", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                      "403": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/diagnostics": {
      "get": {
        "operationId": "diagnostics", "summary": "The doctor's report as the service sees it: system checks, then a line per device",
        "description": "Each check is PASS, WARN or FAIL with the fix; `status` is the worst of them. Scanners come from the discovery cache and pads held by a signature session are reported in use rather than opened.",
        "responses": {"200": {"description": "The report", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DiagnosticReport"}}}},
                      "403": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/devices": {
      "get": {
        "operationId": "listDevices", "summary": "Devices of every kind, from the discovery cache",
        "parameters": [{"name": "refresh", "in": "query", "description": "Rediscover before answering", "schema": {"$ref": "#/components/schemas/Flag"}}],
        "responses": {"200": {"description": "The devices", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeviceList"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/devices/{id}": {
      "get": {
        "operationId": "getDevice", "summary": "A scanner's capabilities and every backend option, or a camera's formats, sizes, frame rates and controls",
        "description": "A camera id (`v4l2:…`) or its device path gives a CameraDetail, read live even while a photo is being taken; a scanner gives a DeviceDetail.",
        "parameters": [{"$ref": "#/components/parameters/DeviceId"}],
        "responses": {"200": {"description": "The device", "content": {"application/json": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/DeviceDetail"}, {"$ref": "#/components/schemas/CameraDetail"}]}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
                      "502": {"$ref": "#/components/responses/Error"}, "504": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/scans": {
      "post": {
        "operationId": "createScan", "summary": "Scan pages into attachments",
        "description": "Returns 202 and the queued or running job; with `?wait=true`, 200 and the finished job (check its `state`). A busy device gives 409 `device_busy` unless `?queue=true`.",
        "parameters": [
          {"name": "wait", "in": "query", "description": "Answer when the job has finished", "schema": {"$ref": "#/components/schemas/Flag"}},
          {"name": "queue", "in": "query", "description": "Wait for a busy device instead of 409", "schema": {"$ref": "#/components/schemas/Flag"}}
        ],
        "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScanRequest"}}}},
        "responses": {
          "200": {"description": "The finished job (`?wait=true`)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "202": {"description": "The job, queued or running", "headers": {"Location": {"schema": {"type": "string"}}},
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"},
          "507": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/photos": {
      "post": {
        "operationId": "createPhoto", "summary": "Take a photo into an attachment",
        "description": "The same job shape as scans: 202 and the job, or with `?wait=true` 200 and the finished job. One capture per camera at a time: a busy camera gives 409 `device_busy` unless `?queue=true`. Progress reports `stage` (opening, streaming, saving) and `framesReceived`. The job's `settings` say what was used: pixelFormat, size, passthrough, framesSkipped, corruptFramesRetried and each control as `control.NAME`.",
        "parameters": [
          {"name": "wait", "in": "query", "description": "Answer when the job has finished", "schema": {"$ref": "#/components/schemas/Flag"}},
          {"name": "queue", "in": "query", "description": "Wait for a busy camera instead of 409", "schema": {"$ref": "#/components/schemas/Flag"}}
        ],
        "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PhotoRequest"}}}},
        "responses": {
          "200": {"description": "The finished job (`?wait=true`)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "202": {"description": "The job, queued or running", "headers": {"Location": {"schema": {"type": "string"}}},
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"},
          "507": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/signatures": {
      "post": {
        "operationId": "createSignatureSession", "summary": "Start capturing a signature on a pad",
        "description": "Opens the pad (the first usable one without `device`), clears its screen, shows the prompt on pads with a screen and turns inking on. One session per pad: a busy pad gives 409 `device_busy`. The session finishes by itself after `timeout` seconds (default 120), storing its attachments.",
        "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignatureRequest"}}}},
        "responses": {
          "201": {"description": "The session, capturing", "headers": {"Location": {"schema": {"type": "string"}}},
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignatureSession"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"}, "502": {"$ref": "#/components/responses/Error"},
          "507": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/signatures/{id}": {
      "get": {
        "operationId": "getSignatureSession", "summary": "A session; with ?samples=true its samples too (a failed session keeps them)",
        "parameters": [{"$ref": "#/components/parameters/SessionId"},
                       {"name": "samples", "in": "query", "schema": {"$ref": "#/components/schemas/Flag"}}],
        "responses": {"200": {"description": "The session", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignatureSession"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}}
      },
      "delete": {
        "operationId": "cancelSignatureSession", "summary": "Cancel a capturing session (nothing is stored; the pad is released)",
        "parameters": [{"$ref": "#/components/parameters/SessionId"}],
        "responses": {"200": {"description": "The cancelled session", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignatureSession"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/signatures/{id}/events": {
      "get": {
        "operationId": "signatureEvents", "summary": "Live pen points as server-sent events",
        "description": "`state` first (the session), then `points` (data `{\"points\": [[t, x, y, pressure, touching], ...]}`: ms, mm, 0..1, 0/1; batched at most every 10 ms), `cleared`, and `ended` (the session) after which the stream ends.",
        "parameters": [{"$ref": "#/components/parameters/SessionId"}],
        "responses": {"200": {"description": "The event stream", "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/SignatureEvent"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/signatures/{id}/clear": {
      "post": {
        "operationId": "clearSignature", "summary": "Clear the ink on the pad and drop the samples so far",
        "parameters": [{"$ref": "#/components/parameters/SessionId"}],
        "responses": {"200": {"description": "The session", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignatureSession"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/signatures/{id}/finish": {
      "post": {
        "operationId": "finishSignature", "summary": "End the capture and store PNG, SVG, ISO 19794-7 and JSON attachments",
        "description": "A session with no ink yet gives 409 `no_ink` and keeps capturing. A failed or cancelled session gives 409 with the code it ended with (`device_disconnected`, `cancelled`).",
        "parameters": [{"$ref": "#/components/parameters/SessionId"}],
        "responses": {"200": {"description": "The finished session with its attachments", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignatureSession"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/jobs": {
      "get": {
        "operationId": "listJobs", "summary": "Jobs the service remembers, newest first",
        "responses": {"200": {"description": "The jobs", "content": {"application/json": {"schema": {
          "type": "object", "required": ["jobs"], "properties": {"jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}}}},
          "403": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/jobs/{id}": {
      "get": {
        "operationId": "getJob", "summary": "A job",
        "parameters": [{"$ref": "#/components/parameters/JobId"}],
        "responses": {"200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}}
      },
      "delete": {
        "operationId": "cancelJob", "summary": "Cancel a queued or running job (the device is released)",
        "parameters": [{"$ref": "#/components/parameters/JobId"}],
        "responses": {"200": {"description": "The job; a running one turns `cancelled` shortly after", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/jobs/{id}/events": {
      "get": {
        "operationId": "jobEvents", "summary": "The job's events as server-sent events",
        "description": "Every subscriber first gets `state` (the job now), then `progress` and `page` while it runs, and one of `completed`, `failed`, `cancelled`, after which the stream ends. Each `data:` is the job as JSON.",
        "parameters": [{"$ref": "#/components/parameters/JobId"}],
        "responses": {"200": {"description": "The event stream", "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/JobEvent"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/attachments": {
      "get": {
        "operationId": "listAttachments", "summary": "Attachments in the spool, oldest first",
        "responses": {"200": {"description": "The manifests", "content": {"application/json": {"schema": {
          "type": "object", "required": ["attachments"], "properties": {"attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Manifest"}}}}}}},
          "403": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/attachments/{id}": {
      "get": {
        "operationId": "getAttachment", "summary": "An attachment's bytes",
        "description": "Content-Type from the manifest, ETag = the SHA-256 in quotes, `If-None-Match` gives 304, one `Range: bytes=` range gives 206.",
        "parameters": [{"$ref": "#/components/parameters/AttachmentId"},
                       {"name": "Range", "in": "header", "schema": {"type": "string"}},
                       {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "The bytes", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                      "206": {"description": "A range of the bytes", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                      "304": {"description": "Not modified"},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}, "416": {"$ref": "#/components/responses/Error"}}
      },
      "delete": {
        "operationId": "deleteAttachment", "summary": "Remove an attachment and its manifest",
        "parameters": [{"$ref": "#/components/parameters/AttachmentId"}],
        "responses": {"204": {"description": "Removed"}, "400": {"$ref": "#/components/responses/Error"},
                      "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/attachments/{id}/manifest": {
      "get": {
        "operationId": "getAttachmentManifest", "summary": "An attachment's manifest",
        "parameters": [{"$ref": "#/components/parameters/AttachmentId"}],
        "responses": {"200": {"description": "The manifest", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Manifest"}}}},
                      "400": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/v1/openapi.json": {
      "get": {
        "operationId": "openAPI", "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
                      "403": {"$ref": "#/components/responses/Error"}}
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics", "summary": "Prometheus metrics: jobs by kind and outcome, job durations, devices present",
        "responses": {"200": {"description": "Prometheus text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "403": {"$ref": "#/components/responses/Error"}}
      }
    }
  },
  "components": {
    "parameters": {
      "DeviceId": {"name": "id", "in": "path", "required": true, "description": "Device id from /v1/devices, percent-encoded (e.g. `test:0`)", "schema": {"type": "string", "minLength": 1}},
      "JobId": {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}},
      "SessionId": {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}},
      "AttachmentId": {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}}
    },
    "responses": {
      "Error": {"description": "An error with a stable code", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Flag": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", ""]},
      "Error": {
        "type": "object", "required": ["error"], "additionalProperties": false,
        "properties": {"error": {"type": "object", "required": ["code", "message"], "additionalProperties": false,
          "properties": {
            "code": {"type": "string", "description": "invalid_json, unknown_field, invalid_type, invalid_value, body_too_large, not_found, job_not_found, device_not_found, device_busy, queue_full, too_many_subscribers, too_many_connections (503, any route), store_full (507), job_finished, forbidden, range_not_satisfiable, method_not_allowed, bad_request, unsupported_option, internal, session_not_found, session_finished, session_finishing, no_ink, and the scanning, camera and pad codes (device_disconnected, timeout, corrupt_frame, unsupported_format, invalid_control, access_denied, io_error, invalid_descriptor, invalid_report, unsupported_device, cancelled)"},
            "message": {"type": "string"}}}}
      },
      "Health": {
        "type": "object", "required": ["status", "version", "pid", "uptimeSeconds"],
        "properties": {"status": {"const": "ok"}, "version": {"type": "string"}, "pid": {"type": "integer"},
                       "uptimeSeconds": {"type": "number"}, "saneVersion": {"type": "string"}}
      },
      "DiagnosticCheck": {
        "type": "object", "required": ["id", "section", "status", "message"],
        "properties": {"id": {"type": "string"}, "section": {"enum": ["system", "scanners", "cameras", "pads"]},
                       "status": {"enum": ["PASS", "WARN", "FAIL"]}, "message": {"type": "string"}, "hint": {"type": "string"}}
      },
      "DiagnosticReport": {
        "type": "object", "required": ["version", "host", "generatedAt", "checks", "status"],
        "properties": {"version": {"type": "string"}, "host": {"type": "string"}, "generatedAt": {"type": "string", "format": "date-time"},
                       "status": {"enum": ["PASS", "WARN", "FAIL"]},
                       "checks": {"type": "array", "items": {"$ref": "#/components/schemas/DiagnosticCheck"}}}
      },
      "DeviceSummary": {
        "type": "object", "required": ["id", "kind", "vendor", "model", "type", "busy"],
        "properties": {"id": {"type": "string"}, "kind": {"enum": ["scanner", "camera", "signature_pad"]},
                       "vendor": {"type": "string"}, "model": {"type": "string"}, "type": {"type": "string"}, "busy": {"type": "boolean"}}
      },
      "DeviceList": {
        "type": "object", "required": ["devices", "errors"],
        "properties": {
          "devices": {"type": "array", "items": {"$ref": "#/components/schemas/DeviceSummary"}},
          "discoveredAt": {"type": "string", "format": "date-time"},
          "errors": {"type": "array", "items": {"type": "object", "required": ["kind", "code", "message"],
            "properties": {"kind": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}}
      },
      "OptionConstraint": {
        "type": "object", "required": ["type"],
        "properties": {"type": {"enum": ["none", "range", "wordList", "stringList"]}, "min": {"type": "number"}, "max": {"type": "number"},
                       "quant": {"type": "number"}, "values": {"type": "array"}}
      },
      "OptionDescriptor": {
        "type": "object", "required": ["name", "title", "help", "type", "unit", "size", "constraint", "capabilities"],
        "properties": {"name": {"type": "string"}, "title": {"type": "string"}, "help": {"type": "string"},
                       "type": {"enum": ["bool", "int", "fixed", "string", "button", "group"]},
                       "unit": {"enum": ["none", "pixel", "bit", "mm", "dpi", "percent", "microsecond"]},
                       "size": {"type": "integer"}, "constraint": {"$ref": "#/components/schemas/OptionConstraint"},
                       "capabilities": {"type": "integer", "description": "SANE_CAP_* bits"}}
      },
      "DeviceDetail": {
        "type": "object", "required": ["device", "capabilities", "options", "values", "cached"],
        "properties": {
          "device": {"$ref": "#/components/schemas/DeviceSummary"},
          "capabilities": {"type": "object", "required": ["sources", "modes", "papers"], "properties": {
            "sources": {"type": "array", "items": {"enum": ["flatbed", "adf", "duplex"]}},
            "modes": {"type": "array", "items": {"enum": ["color", "gray", "lineart"]}},
            "resolutions": {"type": "object", "description": "{values: [dpi]} or {min, max, step}"},
            "maxAreaMillimetres": {"type": "array", "items": {"type": "number"}},
            "papers": {"type": "array", "items": {"enum": ["A4", "A5", "Letter", "ID1"]}}}},
          "options": {"type": "array", "items": {"$ref": "#/components/schemas/OptionDescriptor"}},
          "values": {"type": "object", "additionalProperties": {"type": "string"}},
          "cached": {"type": "boolean"}}
      },
      "JobEvent": {
        "type": "object", "required": ["event", "data"], "description": "One server-sent event; `data` is the job as JSON",
        "properties": {"event": {"enum": ["state", "progress", "page", "completed", "failed", "cancelled"]}, "data": {"type": "string"}, "id": {"type": "string"}}
      },
      "SignatureEvent": {
        "type": "object", "required": ["event", "data"], "description": "One server-sent event; `data` is JSON: the session, or points",
        "properties": {"event": {"enum": ["state", "points", "cleared", "ended"]}, "data": {"type": "string"}, "id": {"type": "string"}}
      },
      "ScanRequest": {
        "type": "object", "additionalProperties": false,
        "properties": {
          "device": {"type": "string", "minLength": 1, "description": "Default: the first scanner"},
          "source": {"enum": ["flatbed", "adf", "duplex"]},
          "mode": {"enum": ["color", "gray", "lineart"], "description": "Default color"},
          "resolution": {"type": "number", "exclusiveMinimum": 0, "maximum": 19200, "description": "dpi; the nearest supported value is used (default 300)"},
          "paper": {"enum": ["A4", "A5", "Letter", "ID1"]},
          "area": {"type": "object", "required": ["x", "y", "width", "height"], "additionalProperties": false,
                   "description": "Millimetres from the top-left corner",
                   "properties": {"x": {"type": "number", "minimum": 0}, "y": {"type": "number", "minimum": 0},
                                  "width": {"type": "number", "exclusiveMinimum": 0}, "height": {"type": "number", "exclusiveMinimum": 0}}},
          "format": {"enum": ["jpeg", "png", "pnm", "pdf"], "description": "One file per page, or one PDF of all pages"},
          "quality": {"type": "integer", "minimum": 1, "maximum": 100},
          "maxPages": {"type": "integer", "minimum": 1, "maximum": 10000},
          "options": {"type": "object", "description": "Backend options by SANE name", "additionalProperties": {"type": ["string", "number", "boolean"]}}
        }
      },
      "PhotoRequest": {
        "type": "object", "additionalProperties": false,
        "properties": {
          "device": {"type": "string", "minLength": 1, "description": "Camera id or /dev/videoN (default: the first camera)"},
          "size": {"type": "string", "pattern": "^0*(?:[1-9][0-9]{0,3}|1[0-5][0-9]{3}|16[0-2][0-9]{2}|163[0-7][0-9]|1638[0-4])[xX]0*(?:[1-9][0-9]{0,3}|1[0-5][0-9]{3}|16[0-2][0-9]{2}|163[0-7][0-9]|1638[0-4])$", "description": "WIDTHxHEIGHT, each 1 to 16384 (default: the largest the camera offers)"},
          "pixelFormat": {"type": "string", "pattern": "^[ -~]{1,4}(?:-[Bb][Ee])?$", "description": "V4L2 FourCC such as MJPG, YUYV, NV12 (default: MJPG for JPEG output, else YUYV)"},
          "skip": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "Frames to discard first (default: 2 frames and 500 ms)"},
          "settle": {"type": "integer", "minimum": 0, "maximum": 60000, "description": "Milliseconds to let the camera settle"},
          "controls": {"type": "object", "description": "Controls by name: brightness, focus, exposure, white_balance or any control key", "additionalProperties": {"type": ["string", "number", "boolean"]}},
          "format": {"enum": ["jpeg", "png"], "description": "Default jpeg; an MJPEG camera's own JPEG is kept as it is"},
          "quality": {"type": "integer", "minimum": 1, "maximum": 100, "description": "For converted frames (default 90)"},
          "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600, "description": "Seconds to wait for a frame"}
        }
      },
      "CameraDetail": {
        "type": "object", "required": ["device", "camera"],
        "properties": {
          "device": {"$ref": "#/components/schemas/DeviceSummary"},
          "camera": {"type": "object", "required": ["id", "path", "driver", "card", "bus", "formats", "controls"], "properties": {
            "id": {"type": "string"}, "path": {"type": "string"}, "driver": {"type": "string"}, "card": {"type": "string"}, "bus": {"type": "string"},
            "formats": {"type": "array", "items": {"type": "object", "required": ["pixelFormat", "description", "compressed", "sizes", "savable"], "properties": {
              "pixelFormat": {"type": "string"}, "description": {"type": "string"}, "compressed": {"type": "boolean"}, "savable": {"type": "boolean"},
              "sizes": {"type": "array", "items": {"type": "object", "required": ["width", "height", "framesPerSecond"], "properties": {
                "width": {"type": "integer"}, "height": {"type": "integer"}, "framesPerSecond": {"type": "array", "items": {"type": "number"}}}}}}}},
            "controls": {"type": "array", "items": {"type": "object", "required": ["id", "name", "label", "kind", "minimum", "maximum", "step", "defaultValue", "readOnly", "inactive", "writeOnly"], "properties": {
              "id": {"type": "integer"}, "name": {"type": "string", "description": "The key to set it by"}, "label": {"type": "string"},
              "kind": {"type": "string"}, "minimum": {"type": "integer"}, "maximum": {"type": "integer"}, "step": {"type": "integer"},
              "defaultValue": {"type": "integer"}, "value": {"type": "integer"}, "readOnly": {"type": "boolean"}, "inactive": {"type": "boolean"},
              "writeOnly": {"type": "boolean"}, "menu": {"type": "array", "items": {"type": "object", "properties": {"index": {"type": "integer"}, "name": {"type": "string"}}}}}}}}}
        }
      },
      "SignatureRequest": {
        "type": "object", "additionalProperties": false,
        "properties": {
          "device": {"type": "string", "minLength": 1, "description": "Pad id from /v1/devices (default: the first pad that opens)"},
          "prompt": {"type": "string", "maxLength": 200, "description": "Text for pads with a screen"},
          "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600, "description": "Seconds before the session finishes by itself (default 120)"}
        }
      },
      "SignatureSession": {
        "type": "object", "required": ["id", "device", "pad", "state", "createdAt", "samples", "lostReports", "attachments"],
        "properties": {
          "id": {"type": "string"}, "device": {"type": "string"},
          "pad": {"type": "object", "required": ["id", "driver", "model", "vendorID", "productID", "areaWidth", "areaHeight", "maxPressure"], "properties": {
            "id": {"type": "string"}, "driver": {"enum": ["stu", "hid"]}, "model": {"type": "string"}, "vendorID": {"type": "integer"},
            "productID": {"type": "integer"}, "areaWidth": {"type": "number", "description": "mm"}, "areaHeight": {"type": "number", "description": "mm"},
            "maxPressure": {"type": "integer"}, "screenWidth": {"type": "integer"}, "screenHeight": {"type": "integer"},
            "firmware": {"type": "string"}, "reportRate": {"type": "integer"}}},
          "state": {"enum": ["capturing", "finished", "cancelled", "failed"]},
          "createdAt": {"type": "string", "format": "date-time"}, "finishedAt": {"type": "string", "format": "date-time"},
          "samples": {"type": "integer"}, "lostReports": {"type": "integer"},
          "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Manifest"}},
          "error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
          "sampleData": {"type": "array", "items": {"type": "object", "properties": {
            "time": {"type": "number"}, "x": {"type": "number"}, "y": {"type": "number"}, "pressure": {"type": "number"},
            "inRange": {"type": "boolean"}, "touching": {"type": "boolean"}, "barrel": {"type": "boolean"}, "eraser": {"type": "boolean"},
            "tiltX": {"type": "number"}, "tiltY": {"type": "number"}}}}
        }
      },
      "Job": {
        "type": "object", "required": ["id", "kind", "device", "state", "createdAt", "pages", "attachments"],
        "properties": {
          "id": {"type": "string"}, "kind": {"enum": ["scan", "photo", "signature"]}, "device": {"type": "string"},
          "state": {"enum": ["queued", "running", "completed", "failed", "cancelled"]},
          "createdAt": {"type": "string", "format": "date-time"}, "startedAt": {"type": "string", "format": "date-time"},
          "finishedAt": {"type": "string", "format": "date-time"},
          "progress": {"type": "object", "required": ["page", "bytesReceived", "linesDone"], "properties": {
            "page": {"type": "integer"}, "bytesReceived": {"type": "integer"}, "linesDone": {"type": "integer"},
            "linesExpected": {"type": "integer"}, "fraction": {"type": "number"},
            "stage": {"enum": ["opening", "streaming", "saving"], "description": "Photos"}, "framesReceived": {"type": "integer", "description": "Photos"}}},
          "pages": {"type": "integer"},
          "settings": {"type": "object", "additionalProperties": {"type": "string"}},
          "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Manifest"}},
          "error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
        }
      },
      "Manifest": {
        "type": "object", "required": ["id", "kind", "format", "mediaType", "fileName", "byteCount", "sha256", "capturedAt", "storedAt", "settings"],
        "properties": {
          "id": {"type": "string"}, "kind": {"enum": ["scan", "photo", "signature"]},
          "format": {"enum": ["jpeg", "png", "pnm", "pdf", "svg", "json", "iso19794-7"]},
          "mediaType": {"type": "string"}, "fileName": {"type": "string"}, "byteCount": {"type": "integer"},
          "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
          "pixelWidth": {"type": "integer"}, "pixelHeight": {"type": "integer"}, "dpi": {"type": "number"}, "pages": {"type": "integer"},
          "device": {"type": "string"}, "capturedAt": {"type": "string", "format": "date-time"},
          "storedAt": {"type": "string", "format": "date-time"},
          "settings": {"type": "object", "additionalProperties": {"type": "string"}}
        }
      }
    }
  }
}
"""#
}
