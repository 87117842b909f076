#!/usr/bin/env python3
"""The loopback bridge in real headless Chromium (Selenium + chromedriver), against a running service.

Usage: browser_test.py SERVICE_URL PAGE_PORT PAGE_TOKEN FOREIGN_PORT CONSOLE_TOKEN ARTIFACTS_DIR README OFFICE_KEY COUNTER_PUBLIC_KEY

- README's page that scans (its ```html block, the port changed to the service's) runs from the allowed origin.

- A page served from the allowed origin http://127.0.0.1:PAGE_PORT loads the client from the service, lists the
  devices, scans from the SANE test scanner and shows the image.
- A page on another origin (http://127.0.0.1:FOREIGN_PORT) cannot read the device list even with a stolen token, and
  its form-style post starts nothing.
- The device console (/ui/): before a token, the hint with this origin's pair command; connected, device types in the
  chosen language, a missing camera said in words, paper and mode chosen for a scan, a clamped scan said, rows
  appearing, attachments newest first with kind, device, time, pages, size and the document stages' verdicts; a
  refused token clears the screen. No console errors; screenshots of each state are kept in ARTIFACTS_DIR.
- A page reached under a foreign host name (DNS rebinding: rebind.test resolves to 127.0.0.1) is refused.
Prints one "browser: …" line per check and "browser: all passed"; exit 1 on the first failure.
"""
import base64
import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

service_url, page_port, page_token, foreign_port, console_token, artifacts, readme, office_key, counter_public_key = sys.argv[1:10]
page_port, foreign_port = int(page_port), int(foreign_port)
os.makedirs(artifacts, exist_ok=True)

ALLOWED_PAGE = f"""<!doctype html><meta charset="utf-8"><title>counter page</title><body>
<script type="module">
import {{ CounterKit }} from '{service_url}/v1/client.js';
const client = new CounterKit({{ baseUrl: '{service_url}', token: '{page_token}' }});
try {{
  const {{ devices }} = await client.devices();
  document.body.dataset.devices = devices.map((device) => device.id).join(' ');
  const job = await client.scan({{ device: 'test:0', resolution: 75, paper: 'ID1', format: 'jpeg' }});
  const image = new Image();
  image.id = 'scan';
  image.src = URL.createObjectURL(await client.attachment(job.attachments[0].id));
  await image.decode();
  document.body.append(image);
  // Sealed: the envelope, the manifest as signed, its signature and the audit log, as the page's client gets them.
  const id = job.attachments[0].id;
  const base64 = (bytes) => btoa(Array.from(bytes, (byte) => String.fromCharCode(byte)).join(''));
  const data = new Uint8Array(await (await client.attachment(id)).arrayBuffer());
  const [envelope, manifest, signature, audit] = await Promise.all([
    client.sealed(id), client.manifestBytes(id), client.attachmentSignature(id), client.audit({{ since: 0 }})]);
  document.body.dataset.sealed = JSON.stringify({{
    id, data: base64(data), envelope: base64(envelope), manifest: base64(manifest), signature, lines: audit.lines, head: audit.head }});
  document.body.dataset.result = `ok ${{image.naturalWidth}}x${{image.naturalHeight}} ${{job.attachments[0].pixelWidth}}x${{job.attachments[0].pixelHeight}}`;
}} catch (error) {{
  document.body.dataset.result = `error ${{error.code}} ${{error.message}}`;
}}
</script>"""

FOREIGN_PAGE = f"""<!doctype html><meta charset="utf-8"><title>foreign page</title><body>
<script>
(async () => {{
  const results = [];
  try {{
    const response = await fetch('{service_url}/v1/devices', {{ headers: {{ Authorization: 'Bearer {page_token}' }} }});
    results.push('read ' + response.status + ' ' + (await response.text()).slice(0, 40));
  }} catch (error) {{
    results.push('read blocked');
  }}
  try {{
    await fetch('{service_url}/v1/scans', {{ method: 'POST', mode: 'no-cors', headers: {{ 'Content-Type': 'text/plain' }},
                                            body: '{{"device":"test:0"}}' }});
    results.push('post sent');
  }} catch (error) {{
    results.push('post blocked');
  }}
  document.body.dataset.result = results.join('; ');
}})();
</script>"""


# README's example page, as a reader would copy it, with the service's port in place of 8990.
readme_text = open(readme, encoding="utf-8").read()
README_PAGE = readme_text.split("```html\n", 1)[1].split("```", 1)[0].replace("8990", service_url.rsplit(":", 1)[1])


class Pages(http.server.BaseHTTPRequestHandler):
    def __init__(self, body, *args, **kwargs):
        self.body = body
        super().__init__(*args, **kwargs)

    def do_GET(self):
        data = (README_PAGE if self.path == "/readme.html" else self.body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def serve(port, body):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Pages, body))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fail(why):
    print(f"browser: FAIL {why}")
    sys.exit(1)


def check(condition, why):
    if not condition:
        fail(why)
    print(f"browser: ok {why}")


def wait_for(driver, script, timeout=60):
    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(script))


def severe_console_messages(driver):
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


serve(page_port, ALLOWED_PAGE)
serve(foreign_port, FOREIGN_PAGE)
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400",
                 "--host-resolver-rules=MAP rebind.test 127.0.0.1"]:
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    # 1. The allowed page scans and shows the image.
    driver.get(f"http://127.0.0.1:{page_port}/")
    result = wait_for(driver, "return document.body.dataset.result")
    check(result.startswith("ok "), f"allowed page scans and shows the image: {result}")
    shown, stored = result.split()[1:3]
    check(shown == stored and shown != "0x0", f"the image decoded at its stored size {stored}")
    check("test:0" in driver.execute_script("return document.body.dataset.devices"), "allowed page lists the devices")
    check(not severe_console_messages(driver), "allowed page: no console errors")

    # 1a. What the page's client fetched of the sealed attachment, checked by verifiers that are not CounterKit's.
    from cryptography.hazmat.primitives import serialization
    sealed = json.loads(driver.execute_script("return document.body.dataset.sealed"))
    data, envelope, manifest_bytes = (base64.b64decode(sealed[name]) for name in ("data", "envelope", "manifest"))
    manifest = json.loads(manifest_bytes)
    check(manifest["id"] == sealed["id"] and manifest["sha256"] == hashlib.sha256(data).hexdigest() and len(data) == manifest["byteCount"],
          f"the page read the attachment's bytes, matching its manifest ({len(data)} bytes)")
    envelope_path = os.path.join(artifacts, "page-sealed.p7m")
    with open(envelope_path, "wb") as file:
        file.write(envelope)
    opened = subprocess.run(["openssl", "cms", "-decrypt", "-inform", "DER", "-in", envelope_path, "-inkey", office_key],
                            capture_output=True)
    check(opened.returncode == 0 and opened.stdout == data,
          f"openssl cms -decrypt opens the envelope the page fetched to the scanned bytes ({len(envelope)} bytes) {opened.stderr[:200]!r}")
    with open(counter_public_key, "rb") as file:
        public_key = serialization.load_pem_public_key(file.read())
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    signature = sealed["signature"]
    check(signature["algorithm"] == "ed25519" and signature["keyId"] == hashlib.sha256(spki).hexdigest() == manifest["keyId"],
          f"the signature the page fetched names the counter's key: {signature['keyId'][:16]}…")
    public_key.verify(base64.b64decode(signature["signature"]), manifest_bytes)  # raises if it does not verify
    check(True, "Python's cryptography verifies the manifest's signature the page fetched")
    previous, events = "0" * 64, []
    for line in sealed["lines"]:
        entry, cut = json.loads(line), line.rindex(',"signature":"')
        public_key.verify(base64.b64decode(entry["signature"]), (line[:cut] + "}").encode())
        if entry["prev"] != previous:
            fail(f"audit entry {entry['seq']} does not follow the one before")
        previous = hashlib.sha256(line.encode()).hexdigest()
        events.append((entry["event"], entry.get("attachment")))
    check(sealed["head"]["sha256"] == previous and sealed["head"]["seq"] == len(sealed["lines"]),
          f"the page's audit log: {len(sealed['lines'])} signed entries in one chain up to the head the service named")
    check(("capture", sealed["id"]) in events and ("download", sealed["id"]) in events,
          f"the audit log records the page's capture and download: {events}")

    # 1b. README's page, as a clerk uses it: the token typed into its field once (kept for the next visit), then Scan.
    driver.get(f"http://127.0.0.1:{page_port}/readme.html")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.querySelector('#token')"))
    field = driver.find_element(By.ID, "token")
    field.send_keys(page_token)
    field.send_keys("\t")   # change event: the page keeps it
    driver.get(f"http://127.0.0.1:{page_port}/readme.html")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.querySelector('#token').value"))
    check(driver.execute_script("return document.querySelector('#token').value") == page_token, "README's page keeps the pasted token")
    driver.find_element(By.ID, "scan").click()
    size = wait_for(driver, "const image = document.getElementById('result'); const status = document.getElementById('status').textContent;"
                            " return status ? 'error ' + status : (image.complete && image.naturalWidth > 0 ? image.naturalWidth + 'x' + image.naturalHeight : null)")
    check(not size.startswith("error"), f"README's page scans and shows the result: {size}")
    painted = driver.execute_script("const c = document.getElementById('live'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                                    " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n")
    check(painted > 1000, f"README's page drew the live rows ({painted} pixels)")
    # The whole live view fits: the test bed's square page at 300 px wide is 300 rows, and its last rows are drawn
    # (a canvas without a height showed only the top 150).
    last_rows = driver.execute_script("const c = document.getElementById('live'); const d = c.getContext('2d').getImageData(0, 290, c.width, 10).data;"
                                      " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n")
    check(last_rows > 2000, f"README's page drew the live view's last rows ({last_rows} pixels in rows 290-299)")
    page_shot = os.path.join(artifacts, "readme-page.png")
    driver.save_screenshot(page_shot)
    check(os.path.getsize(page_shot) > 10000, f"screenshot of README's page kept: {page_shot}")
    check(not severe_console_messages(driver), "README's page: no console errors")

    # 2. The foreign page reads nothing and starts nothing, even with the allowed page's token.
    jobs_before = len(json.load(urllib.request.urlopen(urllib.request.Request(
        f"{service_url}/v1/jobs", headers={"Authorization": f"Bearer {page_token}"})))["jobs"])
    driver.get(f"http://127.0.0.1:{foreign_port}/")
    result = wait_for(driver, "return document.body.dataset.result")
    check(result.startswith("read blocked"), f"foreign page cannot read the device list: {result}")
    jobs_after = len(json.load(urllib.request.urlopen(urllib.request.Request(
        f"{service_url}/v1/jobs", headers={"Authorization": f"Bearer {page_token}"})))["jobs"])
    check(jobs_after == jobs_before, f"foreign page's post started no scan ({jobs_before} jobs before, {jobs_after} after)")
    driver.get_log("browser")  # the foreign page's blocked requests are expected console errors

    # 3. The console. Before a token: the hint says how to get one (the exact pair command for this origin).
    driver.get(f"{service_url}/ui/")
    check(driver.title == "CounterKit 设备控制台", f"the console opens in Simplified Chinese: {driver.title}")
    hint = driver.find_element(By.ID, "token-hint")
    check(hint.is_displayed() and f"counterkit pair {service_url}" in hint.text and "令牌" in hint.text and "连接" in hint.text,
          f"before a token, the console says to run counterkit pair and paste the token: {hint.text}")
    check(driver.execute_script("return document.querySelectorAll('#scanner option, #camera option, #pad option').length") == 0,
          "before a token, no device is offered")
    driver.save_screenshot(os.path.join(artifacts, "console-no-token.png"))

    # A document-stage scan made beforehand (its verdicts are listed), then the console connects.
    def api(method, path, body=None):
        request = urllib.request.Request(f"{service_url}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                         headers={"Authorization": f"Bearer {console_token}", "Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(request))
    staged = api("POST", "/v1/scans", {"device": "test:0", "resolution": 75, "format": "png", "document": {"color": "auto", "blank": "flag"}})
    deadline = time.time() + 120
    while staged["state"] not in ("completed", "failed", "cancelled") and time.time() < deadline:
        time.sleep(0.2)
        staged = api("GET", f"/v1/jobs/{staged['id']}")
    check(staged["state"] == "completed", f"a scan with document stages for the list: {staged['state']}")
    staged_id = staged["attachments"][0]["id"]

    driver.find_element(By.ID, "token").send_keys(console_token)
    driver.find_element(By.ID, "connect").click()
    wait_for(driver, "return document.body.dataset.connected === 'true' && document.querySelector('#scanner option')")
    check(driver.execute_script("return document.getElementById('error').classList.contains('shown')") is False,
          "the console connects with its token")
    check(not driver.find_element(By.ID, "token-hint").is_displayed(), "connected, the token hint is gone")
    check(driver.find_element(By.CSS_SELECTOR, "#devices td").text == "扫描仪", "the device table names the scanner in Chinese")
    # No camera on this machine: the preview says so in words, not as an error code.
    check("没有摄像头" in driver.find_element(By.ID, "camera-status").text, "no camera: said beside the camera's controls")
    driver.find_element(By.ID, "preview").click()
    check("没有摄像头" in driver.find_element(By.ID, "camera-status").text
          and not driver.execute_script("return document.getElementById('error').classList.contains('shown')"),
          f"a preview with no camera says to connect one: {driver.find_element(By.ID, 'camera-status').text}")

    # A4 on the test scanner's 200 mm square bed: scanned as far as the bed goes, and the console says so.
    Select(driver.find_element(By.ID, "paper")).select_by_value("A4")
    driver.find_element(By.ID, "scan").click()
    rows_seen = []
    def scan_done(d):
        rows = d.execute_script("return Number(document.getElementById('scan-rows').dataset.rows || 0)")
        rows_seen.append(rows)
        return d.execute_script("return !document.getElementById('scan').disabled && Number(document.getElementById('scan-rows').dataset.rows || 0) > 0")
    WebDriverWait(driver, 120, poll_frequency=0.05).until(scan_done)
    error = driver.execute_script("return document.getElementById('error').classList.contains('shown') ? document.getElementById('error').textContent : ''")
    check(not error, f"the console's scan shows no error {error}")
    distinct = sorted(set(rows_seen))
    check(len(distinct) >= 2 and distinct[-1] > 0, f"rows appeared as the scan went: row counts seen {distinct[:6]}…{distinct[-1]}")
    status = driver.find_element(By.ID, "scan-status").text
    check(status.startswith("完成"), f"the scan is done: {status}")
    notice = driver.find_element(By.ID, "scan-notice")
    check(notice.is_displayed() and "210×297" in notice.text and "200×200" in notice.text,
          f"the clamped scan is said, with what was asked and what was scanned: {notice.text}")
    wait_for(driver, "return [...document.querySelectorAll('#attachments img.thumb')].some((image) => image.complete && image.naturalWidth > 0)")
    screenshot = os.path.join(artifacts, "console.png")
    driver.save_screenshot(screenshot)
    check(os.path.getsize(screenshot) > 10000, f"screenshot kept: {screenshot}")

    # A grey ID card scan: the mode and paper chosen reach the scanner, and the newest attachment is listed first.
    Select(driver.find_element(By.ID, "paper")).select_by_value("ID1")
    Select(driver.find_element(By.ID, "mode")).select_by_value("gray")
    Select(driver.find_element(By.ID, "resolution")).select_by_value("75")
    driver.find_element(By.ID, "scan").click()
    wait_for(driver, "return !document.getElementById('scan').disabled && document.getElementById('scan-status').textContent.startsWith('完成')", 120)
    check(driver.find_element(By.ID, "scan-notice").text == "", "an ID card fits the bed: no clamped notice")
    wait_for(driver, "return document.querySelectorAll('#attachments tbody tr').length >= 5")
    listed = driver.execute_script("""return [...document.querySelectorAll('#attachments tbody tr')].map((row) => ({
        id: row.dataset.id, kind: row.querySelector('.kind').textContent, device: row.querySelector('.device').textContent,
        time: row.querySelector('.time').textContent, pages: row.querySelector('.pages').textContent,
        size: row.querySelector('.size').textContent, checks: [...row.querySelectorAll('.chip')].map((chip) => chip.textContent),
        manifest: JSON.parse(row.querySelector('pre').textContent) }))""")
    # The two pages' scans, the document-stage scan and the console's two.
    check(len(listed) == 5, f"five attachments listed: {[row['id'] for row in listed]}")
    newest = listed[0]["manifest"]
    check(newest["settings"].get("mode") == "gray" and newest["settings"].get("paper") == "ID1",
          f"the newest first, scanned as chosen (grey, ID card): {newest['settings']}")
    stored = [row["manifest"]["storedAt"] for row in listed]
    check(stored == sorted(stored, reverse=True), f"newest first: {stored}")
    for row in listed:
        manifest = row["manifest"]
        check(row["kind"].startswith("扫描件") and row["device"] == "test:0" and row["pages"] == "1"
              and row["size"].endswith(("B", "KB", "MB")) and row["time"],
              f"each row shows kind, device, time, pages and size: {row['kind']} | {row['device']} | {row['time']} | {row['pages']} | {row['size']}")
        check(str(manifest["byteCount"]) in driver.execute_script(f"return document.querySelector('tr[data-id=\"{manifest['id']}\"] .size').title"),
              "the size's exact byte count is on hover")
    by_id = {row["id"]: row for row in listed}
    check(any(chip.startswith("颜色") for chip in by_id[staged_id]["checks"]),
          f"the document stages' verdicts are shown: {by_id[staged_id]['checks']}")
    a4 = listed[1]
    check("超出扫描面" in a4["checks"], f"the clamped scan is marked in the list: {a4['checks']}")

    # English: every label, the device types and the attachments' kinds.
    driver.find_element(By.ID, "language").click()
    check(driver.find_element(By.ID, "scan").text == "Scan", "English by the switch")
    wait_for(driver, "return [...document.querySelectorAll('#attachments button')].some((button) => button.textContent === 'Download')")
    check(driver.find_element(By.CSS_SELECTOR, "#devices td").text == "scanner", "the device table reads 'scanner' in English")
    check(driver.find_element(By.CSS_SELECTOR, "#attachments tbody .kind").text.startswith("Scan"), "attachment kinds in English")
    check("No camera" in driver.find_element(By.ID, "camera-status").text, "the missing camera said in English")
    driver.save_screenshot(os.path.join(artifacts, "console-en.png"))
    messages = severe_console_messages(driver)
    check(not messages, f"console page: no console errors {messages}")

    # A refused token: the error says so, and nothing of the last connection stays on screen.
    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys("not-a-token")
    driver.find_element(By.ID, "connect").click()
    wait_for(driver, "return document.getElementById('error').classList.contains('shown')")
    error = driver.find_element(By.ID, "error").text
    check("unauthorized" in error and "refused" in error, f"a refused token is said plainly: {error}")
    left = driver.execute_script("return document.querySelectorAll('#devices tr, #attachments tbody tr, #scanner option, #camera option, #pad option').length")
    check(left == 0, f"after a refused token, no device or attachment of the last connection stays ({left} left)")
    painted = driver.execute_script("const c = document.getElementById('scan-rows'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                                    " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n")
    check(painted == 0, f"after a refused token, the last scan's rows are gone ({painted} pixels left)")
    check(driver.find_element(By.ID, "token-hint").is_displayed(), "after a refused token, the hint is back")
    driver.save_screenshot(os.path.join(artifacts, "console-rejected.png"))
    driver.get_log("browser")  # the refused request is an expected console error

    # 4. DNS rebinding: the same service under a foreign name is refused.
    driver.get(f"http://rebind.test:{service_url.rsplit(':', 1)[1]}/ui/")
    body = driver.find_element(By.TAG_NAME, "body").text
    check("forbidden_host" in body, f"a foreign Host is refused: {body[:80]}")
finally:
    driver.quit()
print("browser: all passed")
