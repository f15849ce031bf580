"""The key-status page (`GET /keys`) in a real headless Chromium, driven over the DevTools protocol
on 127.0.0.1: a wrong token shows a clear 401, the right one (typed into the password field) shows
each key's state as the admin API has it, the filters narrow the list, Reactivate and Remove (after
its confirmation) call the admin API, and neither the token nor a key shows up in a URL, the DOM,
the console or the relay's log. Screenshots go to artifacts/key-page.png and key-page-phone.png."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import Stack, free_port

websocket = pytest.importorskip(
    "websocket", reason="websocket-client is not installed (Tests/Integration/requirements.txt)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian package `chromium`; scripts/setup.sh --test should add it)",
)

BAD_KEY = "AIzaSyKEYPAGE00000000000000000000000BAD1"  # unknown to the simulator: 400 API_KEY_INVALID
TIRED_KEY = "AIzaSyKEYPAGE0000000000000000000000TIRED"  # answers a per-day 429
GOOD_KEY = "AIzaSyKEYPAGE00000000000000000000000GOOD"
CLIENT_TOKEN = "key-page-client-token"
ADMIN_TOKEN = "key-page-admin-token-7f3a"
SECRETS = [BAD_KEY, TIRED_KEY, GOOD_KEY, CLIENT_TOKEN, ADMIN_TOKEN]
ARTIFACTS = "artifacts"


@pytest.fixture(scope="module")
def page_stack():
    """A simulator that knows two of the relay's three keys (one of them exhausted for the day),
    and a relay with an admin token, each on a free port of 127.0.0.1."""
    workdir = tempfile.mkdtemp(prefix="keyrelay-page-")
    stack = Stack(workdir)
    sim_port, relay_port = free_port(), free_port()
    stack.start(
        "simulator",
        ["simulate", "--listen", f"127.0.0.1:{sim_port}", "--keys", f"{TIRED_KEY},{GOOD_KEY}",
         "--daily-exhausted-keys", TIRED_KEY],
        dict(os.environ),
        f"http://127.0.0.1:{sim_port}/simulator/stats",
    )
    env = dict(os.environ)
    env.update({
        "KEYRELAY_API_KEYS": f"{BAD_KEY},{TIRED_KEY},{GOOD_KEY}",
        "KEYRELAY_ALLOWED_TOKENS": f"page:{CLIENT_TOKEN}",
        "KEYRELAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "KEYRELAY_UPSTREAM_BASE_URL": f"http://127.0.0.1:{sim_port}",
        "KEYRELAY_DATABASE_URL": os.path.join(workdir, "relay.sqlite"),
        "KEYRELAY_LISTEN": f"127.0.0.1:{relay_port}",
        "KEYRELAY_LOG_LEVEL": "debug",
    })
    stack.start("relay", ["serve"], env, f"http://127.0.0.1:{relay_port}/health")
    stack.relay_url = f"http://127.0.0.1:{relay_port}"
    yield stack
    stack.stop()


def call(stack, method, path, token=None, body=None):
    request = urllib.request.Request(stack.relay_url + path, method=method, data=body)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def admin_keys(stack):
    status, body = call(stack, "GET", "/admin/keys", token=ADMIN_TOKEN)
    assert status == 200
    return body


def spend_until_states_settle(stack):
    """Sends requests until the invalid key is deactivated and the tired one exhausted; which key
    a request gets is random, so the number needed varies (each failed try moves to another key)."""
    body = json.dumps({"contents": [{"parts": [{"text": "key page"}]}]}).encode()
    for _ in range(12):
        request = urllib.request.Request(
            stack.relay_url + "/v1beta/models/gemini-2.5-flash:generateContent", data=body, method="POST",
            headers={"Content-Type": "application/json", "x-goog-api-key": CLIENT_TOKEN})
        try:
            urllib.request.urlopen(request, timeout=30).read()
        except urllib.error.HTTPError:
            pass
        keys = admin_keys(stack)
        if len(keys["inactive"]) == 1 and len(keys["exhausted"]) == 1 and len(keys["valid"]) == 1:
            return keys
    pytest.fail(f"states never settled: {keys['valid']=} {keys['exhausted']=} {keys['inactive']=}")


class Browser:
    """Headless Chromium with one page, spoken to over the DevTools protocol. Every network name
    but 127.0.0.1 fails to resolve, and background services are off, so nothing leaves the host."""

    def __init__(self, workdir):
        self.profile = os.path.join(workdir, "profile")
        self.process = subprocess.Popen([
            CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-default-apps", "--no-pings",
            "--disable-domain-reliability", "--disable-client-side-phishing-detection",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}", "--window-size=1280,900", "about:blank",
        ], stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "chromium.log"), "w"))
        port = self._devtools_port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            target = next(t for t in json.load(response) if t["type"] == "page")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.dialog_answer = None
        for domain in ["Page", "Runtime", "Network", "Log"]:
            self.call(f"{domain}.enable")

    def _devtools_port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            if os.path.exists(path):
                lines = open(path).read().split("\n")
                if lines and lines[0].strip():
                    return int(lines[0])
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port")

    def call(self, method, **params):
        self.next_id += 1
        wanted = self.next_id
        self.ws.send(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._event(message)

    def _event(self, message):
        self.events.append(message)
        # A confirm() blocks the click that opened it: answer it here, as the user would.
        if message["method"] == "Page.javascriptDialogOpening" and self.dialog_answer is not None:
            self.next_id += 1
            self.ws.send(json.dumps({"id": self.next_id, "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": self.dialog_answer}}))

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.evaluate(expression):
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def click(self, selector):
        """A real mouse click in the middle of the first element matching `selector`."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()")
        for kind in ["mousePressed", "mouseReleased"]:
            self.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def type_into(self, selector, text):
        self.click(selector)
        self.call("Input.insertText", text=text)

    def press_enter(self):
        for kind in ["rawKeyDown", "char", "keyUp"]:
            extra = {"text": "\r"} if kind == "char" else {}
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13, **extra)

    def screenshot(self, path, width, mobile=False):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=mobile)
        height = self.evaluate("Math.ceil(document.documentElement.scrollHeight)")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        shot = self.call("Page.captureScreenshot", format="png")
        with open(path, "wb") as file:
            file.write(base64.b64decode(shot["data"]))

    def close(self):
        self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture()
def browser(page_stack):
    browser = Browser(page_stack.workdir)
    yield browser
    browser.close()


def card_states(browser):
    return browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#keys article.key')]"
        ".map(c => [c.dataset.keyId, c.querySelector('.badge.state').textContent]))")


def test_key_page_shows_states_and_reactivates_and_removes_keys(page_stack, browser):
    api = spend_until_states_settle(page_stack)
    inactive, exhausted, valid = (str(api[s][0]) for s in ["inactive", "exhausted", "valid"])

    browser.call("Page.navigate", url=page_stack.relay_url + "/keys")
    browser.wait_for("document.readyState === 'complete' && !!document.getElementById('token')", "the page")

    # A wrong token: a clear 401 message, no data, and the form again.
    browser.type_into("#token", "not-the-admin-token")
    browser.press_enter()
    browser.wait_for("!document.getElementById('error').hidden", "the 401 message")
    assert "401" in browser.evaluate("document.getElementById('error').textContent")
    assert browser.evaluate("document.getElementById('dashboard').hidden")
    assert browser.evaluate("sessionStorage.length") == 0

    # The right one, typed, then Enter: every key with the state the admin API gives it.
    browser.type_into("#token", ADMIN_TOKEN)
    browser.press_enter()
    browser.wait_for("document.querySelectorAll('#keys article.key').length === 3", "three key cards")
    assert browser.evaluate("document.getElementById('error').hidden")
    assert card_states(browser) == {inactive: "inactive", exhausted: "exhausted", valid: "valid"}
    dead_card = f"#keys article[data-key-id='{inactive}']"
    # Why it died (the API's deactivation_reason and last_error) is on its card.
    dead = next(k for k in api["keys"] if str(k["id"]) == inactive)
    dead_text = browser.evaluate(f"document.querySelector(\"{dead_card}\").textContent")
    assert dead["deactivation_reason"] and dead["deactivation_reason"] in dead_text
    assert dead["last_error"] is None or dead["last_error"] in dead_text
    assert browser.evaluate(f"document.querySelector(\"{dead_card} button.reactivate\").disabled") is False
    valid_card = f"#keys article[data-key-id='{valid}']"
    assert browser.evaluate(f"document.querySelector(\"{valid_card} button.reactivate\").disabled")

    # Use by model: RPM/TPM/RPD bars per key, the good key's RPD bar filled in part (the day's
    # window, so a minute ending meanwhile cannot empty it), reset clocks ticking.
    flash = "#models section[data-model='gemini-2.5-flash']"
    browser.wait_for(f"document.querySelectorAll(\"{flash} .usage\").length === 3", "usage rows")
    assert browser.evaluate(f"document.querySelectorAll(\"{flash} .meter\").length") == 9
    rpd_fill = browser.evaluate(f"document.querySelector(\"{flash} .usage[data-key-id='{valid}'] "
                                "[data-meter='rpd'] .fill\").style.width")
    assert rpd_fill.endswith("%") and float(rpd_fill[:-1]) > 0
    assert browser.evaluate("/\\d+s/.test(document.getElementById('reset-minute').textContent)")

    os.makedirs(ARTIFACTS, exist_ok=True)
    browser.screenshot(os.path.join(ARTIFACTS, "key-page.png"), 1280)
    browser.screenshot(os.path.join(ARTIFACTS, "key-page-phone.png"), 390, mobile=True)
    assert browser.evaluate("document.documentElement.scrollWidth <= 390"), "the phone layout scrolls sideways"
    browser.call("Emulation.clearDeviceMetricsOverride")
    print(f"\nkey page screenshots: {ARTIFACTS}/key-page.png, {ARTIFACTS}/key-page-phone.png")

    # Filters: state, then text (a piece of the exhausted key's fingerprint), then back to all.
    browser.evaluate("(() => { const s = document.getElementById('filter-state'); s.value = 'inactive';"
                     " s.dispatchEvent(new Event('change')); })()")
    assert list(card_states(browser)) == [inactive]
    browser.evaluate("(() => { const s = document.getElementById('filter-state'); s.value = '';"
                     " s.dispatchEvent(new Event('change')); })()")
    fingerprint = next(k["fingerprint"] for k in api["keys"] if str(k["id"]) == exhausted)
    browser.type_into("#filter-text", fingerprint[-6:])
    assert list(card_states(browser)) == [exhausted]
    browser.evaluate("(() => { const t = document.getElementById('filter-text'); t.value = '';"
                     " t.dispatchEvent(new Event('input')); })()")

    # Reactivate the dead key: the admin API has it valid, and so does the page.
    browser.click(f"{dead_card} button.reactivate")
    browser.wait_for(f"document.querySelector(\"{dead_card}\")?.dataset.state === 'valid'", "the reactivated key")
    assert int(inactive) in admin_keys(page_stack)["valid"]

    # Remove asks first: declined, nothing happens; accepted, the key is gone from API and page.
    tired_card = f"#keys article[data-key-id='{exhausted}']"
    browser.dialog_answer = False
    browser.click(f"{tired_card} button.remove")
    assert any(e["method"] == "Page.javascriptDialogOpening" and fingerprint in e["params"]["message"]
               for e in browser.events)
    assert int(exhausted) in admin_keys(page_stack)["exhausted"]
    browser.dialog_answer = True
    browser.click(f"{tired_card} button.remove")
    browser.wait_for(f"document.querySelector(\"{tired_card}\") === null", "the removed key to go")
    assert int(exhausted) not in [k["id"] for k in admin_keys(page_stack)["keys"]]

    # The token stays out of URLs, the DOM and the console; no CSP violation or script error.
    urls = [e["params"]["request"]["url"] for e in browser.events if e["method"] == "Network.requestWillBeSent"]
    assert any(url.endswith("/admin/state") for url in urls)
    assert all(url.startswith(page_stack.relay_url) or url == "about:blank" for url in urls), urls
    messages = [json.dumps(e["params"]) for e in browser.events
                if e["method"] in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")]
    assert not [m for m in messages if "Content Security Policy" in m or "exceptionDetails" in m], messages
    dom = browser.evaluate("document.documentElement.outerHTML")
    for secret in SECRETS:
        assert not any(secret in url for url in urls)
        assert not any(secret in message for message in messages)
        assert secret not in dom
    logs = page_stack.log_text()
    assert not [secret for secret in SECRETS if secret in logs]
