#!/usr/bin/env python3
"""callrec serve under load: 200 listeners streaming audio at once, memory flat.

A site is made with the real CLI (a compliance key, an agent with a password, a
fixture capture converted sealed), `callrec serve` starts on a free loopback port,
the agent signs in, and wrk holds LISTENERS connections open for SECONDS seconds,
each fetching the call's audio (sealed: decrypted chunk by chunk as it is sent) over
and over, half of them by a byte range in the middle of the file. The server's
resident memory is sampled every second: the run fails if it grows by more than
GROWTH_MB between the first and the last quarter of the run, or if any request fails.

  python3 Tests/Load/serve_load.py --callrec .build/release/callrec [--listeners 200] [--seconds 20]
  python3 Tests/Load/serve_load.py --callrec .build/release/callrec --hour .build/release/soak

With --hour (the path of the soak tool, whose `generate` writes generated traffic), the recording
served is a one-hour call instead of the 6-second fixture: the first audio byte of a range anywhere
in it is timed the same way (issue 14's aim: under 100 ms), and the listeners stream it.
"""
import argparse, http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.parse


def run(*args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"serve-load: {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def login(port, user, password):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/login")
    r = c.getresponse()
    page = r.read().decode()
    token = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
    cookie = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"][0]
    body = urllib.parse.urlencode({"user": user, "password": password, "csrf": token})
    c.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    r = c.getresponse()
    r.read()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith("callrec_session="):
            return v.split(";")[0]
    sys.exit(f"serve-load: login failed ({r.status})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--callrec", required=True)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--growth-mb", type=float, default=20.0)
    parser.add_argument("--hour", metavar="SOAK", help="serve a generated one-hour call (SOAK: the soak tool)")
    args = parser.parse_args()
    callrec = os.path.abspath(args.callrec)
    if not shutil.which("wrk"):
        sys.exit("serve-load: wrk is not installed (scripts/setup.sh installs it)")
    work = tempfile.mkdtemp(prefix="callrec-load-")
    server = None
    try:
        site = os.path.join(work, "recordings")
        os.makedirs(site)
        key = os.path.join(work, "compliance.key")
        recipient = run(callrec, "keys", "new", "--out", key).strip().split()[-1]
        pw = os.path.join(work, "alice.pw")
        with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("alice-password\n")
        if args.hour:
            # One call of 3600 s on line 0 (its caller is +4681100000), speech-like audio, PCMU.
            capture = os.path.join(work, "hour.pcap")
            with open(capture, "wb") as f:
                generated = subprocess.run([args.hour, "generate", "--calls", "1", "--seconds", "3602", "--length", "3600-3600"],
                                           stdout=f, stderr=subprocess.PIPE, text=True)
            if generated.returncode != 0:
                sys.exit(f"serve-load: {args.hour} generate failed: {generated.stderr.strip()}")
            number = "+4681100000"
        else:
            capture, number = "Fixtures/g711u-2legs-20ms.pcap", "+4687654321"
        run(callrec, "catalog", "users", "add", "alice", "--role", "agent", "--number", number, "--password-file", pw, "--out", site)
        run(callrec, "convert", capture, "--out", site, "--recipient", recipient)
        call = json.loads(run(callrec, "catalog", "find", "--json", "--out", site))[0]
        port = free_port()
        server = subprocess.Popen([callrec, "serve", "--out", site, "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        cookie = login(port, "alice", "alice-password")
        url = f"http://127.0.0.1:{port}/calls/{call['id']}/audio"
        # The first request checks the files (once per session); then the first byte of a range, 200 times in a row.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", f"/calls/{call['id']}/audio", headers={"Cookie": cookie, "Range": "bytes=0-0"})
        r = c.getresponse()
        size = int(r.getheader("Content-Range").split("/")[1])
        r.read()
        firsts = []
        for i in range(200):
            start_byte = (i * 7_919_993) % size
            start = time.perf_counter()
            c.request("GET", f"/calls/{call['id']}/audio", headers={"Cookie": cookie, "Range": f"bytes={start_byte}-{min(start_byte + 65535, size - 1)}"})
            r = c.getresponse()
            r.read(1)
            firsts.append((time.perf_counter() - start) * 1000)
            r.read()
        firsts.sort()
        length = f"{call['duration_s'] / 60:.0f} min" if call.get("duration_s") else "?"
        print(f"serve-load: first audio byte of a range: p50 {firsts[100]:.1f} ms, p99 {firsts[197]:.1f} ms "
              f"({size} bytes, {length}, sealed; 200 ranges spread over the file)")

        script = os.path.join(work, "ranges.lua")
        with open(script, "w") as f:
            f.write(f'local n = 0\nrequest = function()\n  n = n + 1\n  local h = {{ ["Cookie"] = "{cookie}" }}\n'
                    f'  if n % 2 == 0 then h["Range"] = "bytes={size // 2}-" end\n'
                    f'  return wrk.format("GET", nil, h)\nend\n')
        samples = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(rss_mb(server.pid))
                time.sleep(1)

        sampler = threading.Thread(target=sample)
        sampler.start()
        before = rss_mb(server.pid)
        out = run("wrk", "-t2", f"-c{args.listeners}", f"-d{args.seconds}s", "--timeout", "10s", "-s", script, url)
        stop.set()
        sampler.join()
        print(out.strip())
        quarter = max(1, len(samples) // 4)
        early, late = max(samples[:quarter]), max(samples[-quarter:])
        print(f"serve-load: {args.listeners} listeners for {args.seconds} s: resident memory {before:.0f} MB before, "
              f"{early:.0f} MB in the first quarter, {late:.0f} MB in the last, {max(samples):.0f} MB at most")
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        socket_errors = re.search(r"Socket errors: (.*)", out)
        failed = False
        if errors:
            print(f"serve-load: FAILED: {errors.group(1)} answers were not 2xx")
            failed = True
        if socket_errors:
            print(f"serve-load: FAILED: socket errors: {socket_errors.group(1)}")
            failed = True
        if late - early > args.growth_mb:
            print(f"serve-load: FAILED: memory grew by {late - early:.0f} MB under a steady load")
            failed = True
        if failed:
            sys.exit(1)
        print("serve-load: passed")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
