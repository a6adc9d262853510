#!/usr/bin/env python3
"""The web console in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by Selenium against the real `linli serve` on a free port, with a
fresh SQLite database, the demo data and dev-mode WeChat.

It signs in by scan (the page shows a ticket; the test approves it through
POST /api/v1/console/tickets/{ticket}/approve with a mini-program token, as the phone
would, and the page goes on by itself), visits every page as committee, street office and
civil affairs, decides a waiting filing from the queue (committee consents, street files),
downloads the workbook, signs in a resident by the dev form and sees the refusal, sends a
form without its CSRF token and sees it refused, and checks that no request left
127.0.0.1 (Chromium's network log) and that no page logged an error (browser log).
Screenshots of each page go to $LINLI_CONSOLE_SCREENSHOTS (default
target/console-screenshots).

    LINLI_BIN=$CARGO_TARGET_DIR/debug/linli python3 tests/browser/console_test.py
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOTS = os.environ.get("LINLI_CONSOLE_SCREENSHOTS", os.path.join(ROOT, "target", "console-screenshots"))
FAILURES = []
EXTERNAL = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="linli-console-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        for key in ["WECHAT_APPID", "WECHAT_SECRET", "REDIS_URL", "APP_ENV"]:
            env.pop(key, None)
        env.update({
            "DATABASE_URL": f"sqlite://{self.dir}/console.db?mode=rwc",
            "SEED_DEMO": "true",
            "BIND": f"127.0.0.1:{self.port}",
            "METRICS_BIND": "off",
            "JWT_SECRET": "console-browser-suite-secret-0123456789",
            "RATE_LIMIT_PER_MINUTE": "0",
            "LOGIN_RATE_LIMIT_PER_MINUTE": "0",
            "RUST_LOG": "warn",
        })
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        self.stop()
        raise SystemExit("the server did not become ready")

    def api(self, method, path, token=None, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        if token:
            req.add_header("authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def login(self, openid):
        status, body = self.api("POST", "/api/v1/auth/wechat/login", body={"code": openid})
        assert status == 200, (openid, status, body)
        return body["access_token"], body["user"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def browser(download_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,768",
                "--lang=zh-CN", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--metrics-recording-only", "--no-default-browser-check", "--disable-features=Translate,OptimizationHints,MediaRouter"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})
    driver.set_page_load_timeout(20)
    return driver


def drain_logs(driver, where, expect_errors=False):
    """Network requests must stay on 127.0.0.1; the console must log no errors."""
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        url = message["params"]["request"]["url"]
        scheme = urllib.parse.urlsplit(url).scheme
        host = urllib.parse.urlsplit(url).hostname
        if scheme in ("data", "blob", "about", "chrome", "devtools"):
            continue
        if host != "127.0.0.1":
            EXTERNAL.append(url)
            check(False, f"{where}: a request left 127.0.0.1: {url}")
    for entry in driver.get_log("browser"):
        if entry["level"] in ("SEVERE", "ERROR"):
            if expect_errors and "Failed to load resource" in entry["message"]:
                continue
            check(False, f"{where}: console error: {entry['message']}")


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def full_shot(driver, name):
    """The whole page: the window grown to the document's height, then back."""
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 768)")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(height + 120, 4000))
    shot(driver, name)
    driver.set_window_size(width, 768)


def wait_for(driver, condition, timeout=10):
    return WebDriverWait(driver, timeout).until(condition)


def sign_in_by_scan(server, driver, token, name=None):
    driver.delete_all_cookies()
    driver.get(server.base + "/console/login")
    qr = wait_for(driver, ec.presence_of_element_located((By.ID, "qr")))
    ticket = qr.get_attribute("data-ticket")
    check(qr.find_element(By.TAG_NAME, "svg") is not None, "the QR code is drawn")
    if name:
        shot(driver, name)
    status, seen = server.api("GET", f"/api/v1/console/tickets/{ticket}", token)
    check(status == 200 and seen["status"] == "waiting", f"the phone sees the ticket: {status} {seen}")
    check("Chrome" in seen.get("browser", "") and seen.get("ip") == "127.0.0.1", f"browser and place shown: {seen}")
    status, body = server.api("POST", f"/api/v1/console/tickets/{ticket}/approve", token, {})
    check(status == 200 and body["status"] == "approved", f"approve: {status} {body}")
    wait_for(driver, ec.url_to_be(server.base + "/console/"))
    drain_logs(driver, "sign-in")


def fetch_status(driver, path, method="GET", body=None):
    script = """
        const done = arguments[arguments.length - 1];
        const init = {method: arguments[1], credentials: 'same-origin'};
        if (arguments[2] !== null) { init.body = new URLSearchParams(arguments[2]); }
        fetch(arguments[0], init).then(r => done([r.status, r.headers.get('content-type') || '']))
          .catch(e => done([0, String(e)]));
    """
    return driver.execute_async_script(script, path, method, body)


PAGES = [
    ("overview", "/console/"),
    ("queue", "/console/queue"),
    ("organizations", "/console/organizations"),
    ("activities-week", "/console/activities"),
    ("activities-month", "/console/activities?view=month"),
    ("exports", "/console/exports"),
    ("grants", "/console/grants"),
]


def visit_pages(server, driver, role):
    for name, path in PAGES:
        driver.get(server.base + path)
        h1 = wait_for(driver, ec.presence_of_element_located((By.TAG_NAME, "h1")))
        check("出错了" not in driver.title and "无权访问" not in h1.text, f"{role} {path}: {h1.text}")
        if name == "overview":
            wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-target svg"))
            wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-monthly svg"))
            # A county and below: its communities; a city or province: its areas.
            table = "#areas" if driver.find_elements(By.ID, "areas") else "#communities"
            rows = driver.find_elements(By.CSS_SELECTOR, f"{table} tbody tr")
            check(len(rows) >= 1, f"{role}: communities against the target")
            if len(rows) > 1:
                # Sortable by keyboard: focus the header button, press Enter.
                button = driver.find_element(By.CSS_SELECTOR, f"{table} thead th:nth-child(2) button")
                button.send_keys("\n")
                check(button.find_element(By.XPATH, "..").get_attribute("aria-sort") == "ascending", "sorted")
        full_shot(driver, f"{role}-{name}")
        drain_logs(driver, f"{role} {path}")
    # An organization's page, from the list.
    driver.get(server.base + "/console/organizations")
    links = driver.find_elements(By.CSS_SELECTOR, "#organizations tbody th a")
    check(len(links) > 0, f"{role}: organizations listed")
    if links:
        links[0].click()
        wait_for(driver, ec.presence_of_element_located((By.ID, "org-activities")))
        full_shot(driver, f"{role}-organization")
        drain_logs(driver, f"{role} organization page")


def decide(driver, server, org_id, reason, role):
    driver.get(server.base + "/console/queue")
    form = wait_for(driver, ec.presence_of_element_located(
        (By.CSS_SELECTOR, f"form[action='/console/queue/organizations/{org_id}']")))
    shot(driver, f"{role}-queue-waiting")
    form.find_element(By.CSS_SELECTOR, "input[value='approve']").click()
    form.find_element(By.NAME, "reason").send_keys(reason)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, ec.url_contains("/console/queue?done=1"))
    check(not driver.find_elements(By.CSS_SELECTOR, f"form[action='/console/queue/organizations/{org_id}']"),
          f"{role}: the decided filing left the queue")
    drain_logs(driver, f"{role} decide")


def main():
    started = time.monotonic()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.environ.get("LINLI_BIN", os.path.join(target, "debug", "linli"))
    shutil.rmtree(SHOTS, ignore_errors=True)
    server = Server(binary)
    downloads = tempfile.mkdtemp(prefix="linli-downloads-")
    driver = browser(downloads)
    try:
        # A filing waiting for the demo committee: applied for through the API.
        committee_token, committee = server.login("demo-committee")
        community = next(r["scope_id"] for r in committee["roles"] if r["role"] == "committee")
        applicant, _ = server.login("console-browser-applicant")
        status, org = server.api("POST", "/api/v1/organizations", applicant, {
            "name": "浏览器测试互助队", "category": "mutual_aid", "community_id": community,
            "description": "楼栋互助，代买代办。", "service_targets": ["elderly"],
            "contact_name": "赵师傅", "contact_phone": "13912345678"})
        check(status == 201, f"applying: {status} {org}")

        # Committee: scan, every page, consent to the filing, download the workbook.
        sign_in_by_scan(server, driver, committee_token, "login")
        visit_pages(server, driver, "committee")
        decide(driver, server, org["id"], "材料齐全，同意", "committee")
        status, seen = server.api("GET", f"/api/v1/organizations/{org['id']}", applicant)
        check(seen.get("status") == "pending_filing", f"consented from the console: {seen.get('status')}")
        driver.get(server.base + "/console/exports")
        driver.find_element(By.CSS_SELECTOR, "#export-form button[type=submit]").click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not [f for f in os.listdir(downloads) if f.endswith(".xlsx")]:
            time.sleep(0.2)
        files = [f for f in os.listdir(downloads) if f.endswith(".xlsx")]
        check(len(files) == 1, f"the workbook downloaded: {os.listdir(downloads)}")
        if files:
            with open(os.path.join(downloads, files[0]), "rb") as f:
                check(f.read(2) == b"PK", "the workbook is an xlsx (zip)")
        drain_logs(driver, "committee download")

        # A form posted without its CSRF token is refused (403), and the session holds.
        status, ctype = fetch_status(driver, "/console/logout", "POST", {})
        check(status == 403 and ctype.startswith("text/html"), f"CSRF-less post: {status} {ctype}")
        status, _ = fetch_status(driver, f"/console/queue/organizations/{org['id']}", "POST", {"decision": "reject", "reason": "x"})
        check(status == 403, f"CSRF-less decision: {status}")
        driver.get(server.base + "/console/")
        check("概览" in driver.find_element(By.TAG_NAME, "h1").text, "still signed in after the refused posts")
        drain_logs(driver, "csrf", expect_errors=True)

        # Sign out by the header's button: back to the sign-in page.
        driver.find_element(By.CSS_SELECTOR, "header form button").click()
        wait_for(driver, ec.url_contains("/console/login"))
        driver.get(server.base + "/console/queue")
        check("/console/login" in driver.current_url, "signed out")
        drain_logs(driver, "sign-out")

        # Street office: files the consented application; then civil affairs.
        street_token, _ = server.login("demo-street")
        sign_in_by_scan(server, driver, street_token)
        visit_pages(server, driver, "street")
        decide(driver, server, org["id"], "予以备案", "street")
        status, seen = server.api("GET", f"/api/v1/organizations/{org['id']}", applicant)
        check(seen.get("status") == "filed", f"filed from the console: {seen.get('status')}")

        civil_token, _ = server.login("demo-civil")
        sign_in_by_scan(server, driver, civil_token)
        visit_pages(server, driver, "civil")
        # The overview on a 4K screen.
        driver.set_window_size(3840, 2160)
        driver.get(server.base + "/console/")
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-target svg"))
        shot(driver, "civil-overview-4k")
        driver.set_window_size(1366, 768)
        drain_logs(driver, "4k")

        # Wrong roles: a resident by the dev form, a leader by scan: refused every page.
        driver.delete_all_cookies()
        driver.get(server.base + "/console/login")
        driver.find_element(By.ID, "openid").send_keys("demo-resident")
        driver.find_element(By.CSS_SELECTOR, "#dev-form button").click()
        wait_for(driver, ec.presence_of_element_located((By.TAG_NAME, "h1")))
        check("无权访问" in driver.find_element(By.TAG_NAME, "h1").text, f"resident refused: {driver.title}")
        shot(driver, "resident-refused")
        for _, path in PAGES:
            status, _ = fetch_status(driver, path)
            check(status == 403, f"resident {path}: {status}")
        drain_logs(driver, "resident", expect_errors=True)
        leader_token, _ = server.login("demo-leader")
        driver.delete_all_cookies()
        driver.get(server.base + "/console/login")
        ticket = driver.find_element(By.ID, "qr").get_attribute("data-ticket")
        server.api("POST", f"/api/v1/console/tickets/{ticket}/approve", leader_token, {})
        wait_for(driver, ec.presence_of_element_located((By.XPATH, "//h1[contains(., '无权访问')]")))
        drain_logs(driver, "leader", expect_errors=True)
    finally:
        driver.quit()
        server.stop()
    took = time.monotonic() - started
    shots = sorted(os.listdir(SHOTS)) if os.path.isdir(SHOTS) else []
    print(f"console browser suite: {len(shots)} screenshots in {SHOTS}, {len(EXTERNAL)} external requests, "
          f"{len(FAILURES)} failures, {took:.1f}s")
    if FAILURES:
        for f in FAILURES:
            print(" -", f)
        sys.exit(1)


if __name__ == "__main__":
    main()
