#!/usr/bin/env python3
"""The device console's camera preview and live signature ink in headless Chromium on the host, against a service
in the test VM (vivid camera, emulated STU-530 pad) reached through `scripts/vm-run --forward`.

Usage: console_vm_test.py SERVICE_PORT CONTROL_PORT ARTIFACTS_DIR WAIT_SECONDS STOP_FILE

Waits until the guest's ConsoleInGuestTests hands over the console's token on 127.0.0.1:CONTROL_PORT (the guest
runs its other suites first), then: connects the console, starts the preview and checks that vivid's colour bars are
drawn in the canvas, captures a photo, starts a signature and checks that the pen's ink is mirrored as it arrives,
finishes it, and sees the attachments listed, with no console errors and a screenshot kept. The verdict ("ok" or
"fail: …") goes back to the guest on the same connection. Prints "console-vm: …" lines; exit 1 on failure.
"""
import os
import socket
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

service_port, control_port, artifacts = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
wait_seconds, stop_file = float(sys.argv[4]), sys.argv[5]
os.makedirs(artifacts, exist_ok=True)


def say(line):
    print(f"console-vm: {line}", flush=True)


# The guest accepts on the control port only once its suite runs; before that, qemu accepts and closes at once.
deadline = time.time() + wait_seconds
control = token = None
while time.time() < deadline and not os.path.exists(stop_file):  # the VM run ended without reaching the suite
    try:
        control = socket.create_connection(("127.0.0.1", control_port), timeout=5)
        control.settimeout(30)
        data = b""
        while not data.endswith(b"\n"):
            chunk = control.recv(4096)
            if not chunk:
                break
            data += chunk
        if data.endswith(b"\n"):
            token = data.decode().strip()
            break
        control.close()
    except OSError:
        pass
    time.sleep(1)
if not token:
    say("FAIL the guest never handed over a token (its ConsoleInGuestTests did not run)")
    sys.exit(1)
say("the guest handed over the console's token")

failure = None
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400"]:
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def js(script):
    return driver.execute_script(script)


def until(script, timeout=120, what=""):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(script))
    except Exception:
        error = js("return document.getElementById('error').textContent")
        raise AssertionError(f"timed out waiting for {what or script} (console error banner: {error!r})")


try:
    driver.get(f"http://127.0.0.1:{service_port}/ui/")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "connect").click()
    until("return document.body.dataset.connected === 'true' && document.querySelector('#camera option') && document.querySelector('#pad option')",
          what="the console to list the camera and the pad")
    say("connected; camera and pad listed")

    # The preview: frames arrive and the canvas shows colour bars.
    driver.find_element(By.ID, "preview").click()
    until("return Number(document.getElementById('preview-canvas').dataset.frames || 0) >= 5", what="5 preview frames")
    colours = js("""
        const canvas = document.getElementById('preview-canvas');
        const row = canvas.getContext('2d').getImageData(0, Math.floor(canvas.height / 2), canvas.width, 1).data;
        const seen = new Set();
        for (let x = 0; x < canvas.width; x += 8) seen.add([row[x * 4], row[x * 4 + 1], row[x * 4 + 2]].map((v) => v > 128 ? 1 : 0).join(''));
        return [canvas.width, canvas.height, [...seen]];
    """)
    width, height, seen = colours
    if width < 320 or len(seen) < 6:
        raise AssertionError(f"the preview canvas does not show vivid's colour bars: {width}x{height}, colours {seen}")
    say(f"preview drawn: {width}x{height}, {len(seen)} bar colours")
    driver.find_element(By.ID, "capture").click()
    until("return document.getElementById('camera-status').textContent.startsWith('已拍照')", what="the photo")
    driver.find_element(By.ID, "preview").click()  # stop
    say("photo captured from the running preview")

    # The signature: ink appears as the pen moves, then it is finished.
    driver.find_element(By.ID, "sign").click()
    until("return Number(document.getElementById('ink').dataset.points || 0) >= 40", what="the first stroke's ink")
    first = js("return Number(document.getElementById('ink').dataset.points)")
    until("return Number(document.getElementById('ink').dataset.points || 0) >= 240", what="all six strokes' ink")
    inked = js("""
        const canvas = document.getElementById('ink');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
        return inked;
    """)
    if inked < 300:
        raise AssertionError(f"the ink canvas has only {inked} inked pixels")
    say(f"ink mirrored live: {first} points at first, then 240; {inked} inked pixels")
    driver.find_element(By.ID, "finish-sign").click()
    until("return document.getElementById('ink').dataset.state === 'finished'", what="the finished session")
    status = driver.find_element(By.ID, "sign-status").text
    if not status.startswith("已完成"):
        raise AssertionError(f"the session's end is not shown in Chinese: {status!r}")
    until("return document.querySelectorAll('#attachments tbody tr').length >= 5", what="the photo and four signature attachments")
    driver.save_screenshot(os.path.join(artifacts, "console-vm.png"))
    messages = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    if messages:
        raise AssertionError(f"console errors: {messages}")
    say("signature finished, attachments listed, no console errors; screenshot kept")
except Exception as error:  # the verdict carries any failure back to the guest, and to this test's output
    failure = str(error).splitlines()[0] if str(error) else repr(error)
    try:
        driver.save_screenshot(os.path.join(artifacts, "console-vm-failed.png"))
    except Exception:
        pass
finally:
    driver.quit()
control.sendall((f"fail: {failure}" if failure else "ok").encode() + b"\n")
control.close()
if failure:
    say(f"FAIL {failure}")
    sys.exit(1)
say("all passed")
