#!/usr/bin/env python3
"""callrec serve in a real browser: Debian's chromium, headless, through WebDriver (selenium).

A catalog is made with the real CLI (a compliance key, users with passwords, the two
fixture captures converted sealed), `callrec serve` is started on a free loopback port,
and the browser signs in as an agent (sees only her call), opens it, presses play and
sees the audio's currentTime advance, clicks the waveform and sees it seek, adds a tag
and a note, signs out
and is refused; the player's ±10 s buttons, its speed menu and its keys (space, ←, →,
1, 2, 3) change the audio's currentTime and playbackRate; then a supervisor sees the
team's calls, and an admin places a legal hold on the holds page and finds it on the
audit page. A screenshot of the call page is saved in the output folder
(OUT/serve-call-page.png).

  python3 Tests/Browser/serve_browser_test.py --callrec .build/debug/callrec --out .build/browser-test
"""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

FIXTURES = ["Fixtures/g711u-2legs-20ms.pcap", "Fixtures/g711a-2legs-20ms.pcap"]
# alice: the callee of the first fixture; bob: the caller of the second; sam supervises their team.
USERS = [("alice", "agent", "+4687654321"), ("bob", "agent", "+4631555010"), ("sam", "supervisor", None), ("ada", "admin", None)]


def run(*args, **kw):
    result = subprocess.run(args, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit(f"browser-test: {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print(f"ok: {message}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--callrec", required=True)
    parser.add_argument("--out", required=True, help="where the screenshot (and nothing else of the test) is kept")
    args = parser.parse_args()
    callrec = os.path.abspath(args.callrec)
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="callrec-browser-")
    server = driver = None
    try:
        site = os.path.join(work, "recordings")
        key = os.path.join(work, "compliance.key")
        recipient = run(callrec, "keys", "new", "--out", key).strip().split()[-1]
        check(recipient.startswith("age1"), f"compliance key {recipient[:12]}…")
        os.makedirs(site)
        for name, role, number in USERS:
            pw = os.path.join(work, name + ".pw")
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(name + "-password\n")
            extra = ["--number", number] if number else []
            run(callrec, "catalog", "users", "add", name, "--role", role, "--team", "sales", *extra, "--password-file", pw, "--out", site)
        for capture in FIXTURES:
            run(callrec, "convert", capture, "--out", site, "--recipient", recipient)
        calls = json.loads(run(callrec, "catalog", "find", "--json", "--out", site))
        by_party = {c["callee"]: c["id"] for c in calls} | {c["caller"]: c["id"] for c in calls}
        alice_call, bob_call = by_party["+4687654321"], by_party["+4631555010"]

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([callrec, "serve", "--out", site, "--listen", f"127.0.0.1:{port}"], stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=1)
                break
            except OSError:
                time.sleep(0.1)

        options = webdriver.ChromeOptions()
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                     "--window-size=1200,1300", "--no-first-run", "--disable-background-networking"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
        # Adding a tag or a note reloads the call page: an element found just before the reload goes stale
        # while it is read, which only means "not yet".
        wait = WebDriverWait(driver, 20, ignored_exceptions=[StaleElementReferenceException])

        def login(user):
            driver.get(base + "/")
            check(driver.current_url.endswith("/login"), f"{user}: without a session / leads to the login page")
            driver.find_element(By.ID, "user").send_keys(user)
            driver.find_element(By.ID, "password").send_keys(user + "-password")
            driver.find_element(By.ID, "signin").click()
            wait.until(lambda d: d.find_elements(By.ID, "calls"))

        def listed():
            return [a.get_attribute("href").rsplit("/", 1)[-1] for a in driver.find_elements(By.CSS_SELECTOR, "#calls a.call")]

        login("alice")
        check(listed() == [alice_call], f"alice sees only her own call ({alice_call})")
        driver.find_element(By.CSS_SELECTOR, "#calls a.call").click()
        wait.until(lambda d: d.find_element(By.ID, "player").get_attribute("data-ready") == "true")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#lanes canvas")) == 2, "one waveform lane per speaker")
        audio = lambda expr: driver.execute_script(f"return document.getElementById('audio').{expr}")
        driver.find_element(By.ID, "play").click()
        wait.until(lambda d: audio("currentTime") > 0.5)
        check(not audio("paused"), f"play: currentTime advances ({audio('currentTime'):.2f} s)")
        driver.find_element(By.ID, "play").click()
        wait.until(lambda d: audio("paused"))
        duration = audio("duration")
        lane = driver.find_element(By.CSS_SELECTOR, "#lanes canvas")
        width = lane.size["width"]
        webdriver.ActionChains(driver).move_to_element_with_offset(lane, int(width * 0.25), 0).click().perform()
        wait.until(lambda d: abs(audio("currentTime") - 0.75 * duration) < 0.3)
        check(True, f"a click at 3/4 of the waveform seeks to {audio('currentTime'):.2f} s of {duration:.2f} s")

        # ±10 s (the fixture is 6 s long: back from 3 s is the start, forward the end).
        def at(seconds):
            driver.execute_script(f"document.getElementById('audio').currentTime = {seconds}")
            wait.until(lambda d: abs(audio("currentTime") - seconds) < 0.05)
        at(3)
        driver.find_element(By.ID, "back").click()
        wait.until(lambda d: audio("currentTime") < 0.05)
        check(True, f"-10 s from 3 s goes to {audio('currentTime'):.2f} s")
        at(1)
        driver.find_element(By.ID, "forward").click()
        wait.until(lambda d: audio("currentTime") > duration - 0.1)
        check(True, f"+10 s from 1 s goes to the end, {audio('currentTime'):.2f} s")
        # Speed from the menu.
        for label, rate in [("1.5×", 1.5), ("2×", 2), ("1×", 1)]:
            Select(driver.find_element(By.ID, "speed")).select_by_visible_text(label)
            wait.until(lambda d: audio("playbackRate") == rate)
            check(True, f"speed {label}: playbackRate {audio('playbackRate')}")
        # The keys, pressed with the page (not a form field) focused.
        def press(key):
            driver.find_element(By.TAG_NAME, "h1").click()
            webdriver.ActionChains(driver).send_keys(key).perform()
        at(4)
        press(Keys.ARROW_LEFT)
        wait.until(lambda d: audio("currentTime") < 0.05)
        check(True, "← goes back 10 s")
        at(1)
        press(Keys.ARROW_RIGHT)
        wait.until(lambda d: audio("currentTime") > duration - 0.1)
        check(True, "→ goes forward 10 s")
        for key, rate in [("2", 1.5), ("3", 2), ("1", 1)]:
            press(key)
            wait.until(lambda d: audio("playbackRate") == rate)
            check(driver.find_element(By.ID, "speed").get_attribute("value") == {1.5: "1.5", 2: "2", 1: "1"}[rate],
                  f"key {key}: playbackRate {rate}, the menu follows")
        at(0.5)
        press(" ")
        wait.until(lambda d: not audio("paused") and audio("currentTime") > 0.7)
        check(True, f"space plays ({audio('currentTime'):.2f} s)")
        press(" ")
        wait.until(lambda d: audio("paused"))
        check(True, "space pauses")
        driver.find_element(By.ID, "new-tag").send_keys("complaint")
        driver.find_element(By.ID, "add-tag").click()
        wait.until(lambda d: "complaint" in d.find_element(By.ID, "tags").text)
        driver.find_element(By.ID, "new-note").send_keys("Customer asked for a refund; called back, resolved.")
        driver.find_element(By.ID, "add-note").click()
        wait.until(lambda d: "called back, resolved" in d.find_element(By.ID, "notes").text)
        check("alice" in driver.find_element(By.ID, "notes").text, "a note and a tag added, with who wrote them")
        wait.until(lambda d: d.find_element(By.ID, "player").get_attribute("data-ready") == "true")
        driver.execute_script("document.getElementById('audio').currentTime = 2.5")
        time.sleep(0.5)
        shot = os.path.join(args.out, "serve-call-page.png")
        driver.save_screenshot(shot)
        check(os.path.getsize(shot) > 0, f"screenshot {shot}")
        logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        check(not logs, f"no errors in the console {logs}")

        driver.find_element(By.ID, "logout").click()
        wait.until(lambda d: d.current_url.endswith("/login"))
        driver.get(base + f"/calls/{alice_call}")
        check(driver.current_url.endswith("/login"), "signed out: the call page leads to the login page")
        driver.get(base + f"/api/calls/{alice_call}")
        check("not signed in" in driver.page_source, "signed out: the API refuses")

        login("sam")
        check(sorted(listed()) == sorted([alice_call, bob_call]), "sam (supervisor) sees the team's calls")
        driver.find_element(By.ID, "logout").click()
        wait.until(lambda d: d.current_url.endswith("/login"))

        # An admin places a legal hold on the holds page and finds it in the audit log.
        login("ada")
        driver.find_element(By.LINK_TEXT, "Holds").click()
        wait.until(lambda d: d.find_elements(By.ID, "hold-form"))
        driver.find_element(By.ID, "hold-id").send_keys(alice_call)
        driver.find_element(By.ID, "hold-reason").send_keys("case 2026-17")
        driver.find_element(By.ID, "hold").click()
        wait.until(lambda d: d.find_elements(By.ID, "outcome"))
        check(f"{alice_call} is under legal hold: case 2026-17" in driver.find_element(By.ID, "outcome").text, "ada places a legal hold")
        check(alice_call in driver.find_element(By.ID, "holds").text, "the holds page lists it")
        driver.find_element(By.LINK_TEXT, "Audit log").click()
        wait.until(lambda d: d.find_elements(By.ID, "audit"))
        driver.find_element(By.NAME, "action").send_keys("hold")
        driver.find_element(By.CSS_SELECTOR, "form.search button").click()
        wait.until(lambda d: "action=hold" in d.current_url)
        rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
        check(any("ada" in r and alice_call in r and "case 2026-17" in r and "done" in r for r in rows), "the audit page shows the hold, by ada, with its reason")
        held = json.loads(run(callrec, "catalog", "find", "--held", "--json", "--out", site))
        check([c["id"] for c in held] == [alice_call], "the catalog has it under hold")
        print("browser-test: passed")
    finally:
        if driver:
            driver.quit()
        if server:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
