#!/usr/bin/env python3
"""Drift correction against quality: a 20-minute two-way PCMU call spoken by
espeak-ng whose caller's clock runs 0.1 % fast or slow, converted with each
correction (`--drift-correction resample|silence`, a hidden option of
convert), to WAV (the correction alone) and Opus (what users get). PESQ
(P.862 narrowband) of each leg, 10 s pieces every minute once the drift is
known, against the payload's own decode (the G.711 decode of what the
sender said, in its own time, placed where the correction should put it);
the decode against itself scores 4.55.

    pip install pesq numpy scipy
    swift build && scripts/measure-drift-correction.py [path/to/callrec] > drift.tsv

Environment: MINUTES (20), DRIFTS (0.001,-0.001; 0 is the control: the same
leg, no drift), CORRECTIONS (resample,silence), VOICES (caller-male: the
drifting caller speaks in espeak's en-us+m3 and the callee in en-gb+f3;
caller-female swaps them, since Opus codes the two voices differently
well), MAKE_FIXTURES (.build/debug/make-fixtures).
"""
import audioop, glob, json, os, subprocess, sys, tempfile
import numpy as np, scipy.signal, soundfile
from pesq import pesq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALLREC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/debug/callrec")
MAKE_FIXTURES = os.environ.get("MAKE_FIXTURES", os.path.join(ROOT, ".build/debug/make-fixtures"))
MINUTES = int(os.environ.get("MINUTES", "20"))
CORRECTIONS = os.environ.get("CORRECTIONS", "resample,silence").split(",")
VOICES = {"caller-male": ("en-us+m3", "en-gb+f3"), "caller-female": ("en-gb+f3", "en-us+m3")}[os.environ.get("VOICES", "caller-male")]
DRIFTS = [float(d) for d in os.environ.get("DRIFTS", "0.001,-0.001").split(",")]
LINES = [
    ("Hello, this is Anna from the support desk, how can I help you today?", "Hi Anna. My phone drops every call after about two minutes, since Monday."),
    ("I see. Could you read me the number on the back of the unit, please?", "Sure, it says four seven one one, dash, nine three two, B."),
    ("Thank you. The firmware on that one is old, so we will send you an update tonight.", "Great, and do I need to restart it afterwards, or does it do that by itself?"),
]


def spoken(text, voice):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", tmp + "/s.wav", text], check=True)
        subprocess.run(["sox", tmp + "/s.wav", "-r", "8000", "-b", "16", "-e", "signed", tmp + "/s.raw"], check=True)
        return np.fromfile(tmp + "/s.raw", dtype="<i2")


def conversation():
    """Alternating turns with half a second between them, repeated for MINUTES."""
    caller, callee = [], []
    for mine, theirs in LINES:
        a, b = spoken(mine, VOICES[0]), spoken(theirs, VOICES[1])
        gap = np.zeros(4000, np.int16)
        caller += [a, gap, np.zeros(len(b), np.int16), gap]
        callee += [np.zeros(len(a), np.int16), gap, b, gap]
    caller, callee = np.concatenate(caller), np.concatenate(callee)
    n = MINUTES * 60 * 8000 + 8000
    reps = n // len(caller) + 1
    return np.tile(caller, reps)[:n], np.tile(callee, reps)[:n]


def decode(x):
    return np.frombuffer(audioop.ulaw2lin(audioop.lin2ulaw(x.astype("<i2").tobytes(), 2), 2), dtype="<i2")


def main():
    work = tempfile.mkdtemp(prefix="callrec-drift-")
    caller, callee = conversation()
    caller.tofile(work + "/caller.raw")
    callee.tofile(work + "/callee.raw")
    sources = [decode(caller), decode(callee)]
    print("drift\tcorrection\tformat\tcaller PESQ\tcallee PESQ\tdrift_ppm\tpieces")
    for drift in DRIFTS:
        capture = f"{work}/call{drift}.pcap"
        subprocess.run([MAKE_FIXTURES, "--speech-call", work + "/caller.raw",
                        work + "/callee.raw", "PCMU", capture, str(drift)], check=True, capture_output=True)
        for correction in CORRECTIONS:
            for fmt in ("wav", "opus"):
                out = f"{work}/{drift}-{correction}-{fmt}"
                subprocess.run([CALLREC, "convert", "--out", out, "--format", fmt, "--drift-correction", correction, capture],
                               check=True, capture_output=True)
                audio = [p for p in glob.glob(out + "/*/*/*/*." + fmt)][0]
                index = [p for p in glob.glob(out + "/*/*/*/*.json") if not p.endswith("peaks.json")][0]
                ppm = json.load(open(index))["channels"][0].get("drift_ppm")
                if fmt == "opus":
                    subprocess.run(["opusdec", "--quiet", "--rate", "48000", "--force-wav", audio, audio + ".wav"], check=True)
                    data, _ = soundfile.read(audio + ".wav", dtype="int16", always_2d=True)
                    data = np.stack([scipy.signal.resample_poly(data[:, c].astype(float), 1, 6) for c in range(2)], 1)
                else:
                    data, _ = soundfile.read(audio, dtype="int16", always_2d=True)
                scores = []
                for leg, d in ((0, drift), (1, 0.0)):
                    s = []
                    for minute in range(1, MINUTES):
                        heard = minute * 60 * 8000
                        sent = int(heard * (1 + d))
                        # The sender's audio brought onto capture time (where the correction should put it).
                        piece = sources[leg][sent:sent + 81000].astype(float)
                        ref = scipy.signal.resample_poly(piece, 1000, 1000 + int(round(d * 1000)))[:80000] if d else piece[:80000]
                        # The piece may start a few ms off (the legs' anchors): align on the best lag of
                        # the whole piece (its first second may be silence, which aligns nothing).
                        deg = data[:, leg].astype(float)
                        if np.sqrt(np.mean(ref ** 2)) < 100:
                            continue
                        win = deg[heard - 800:heard + 80000 + 800]
                        cc = scipy.signal.correlate(win, ref, "valid", method="fft")
                        lag = int(np.argmax(cc)) - 800
                        s.append(pesq(8000, ref, deg[heard + lag:heard + lag + 80000], "nb"))
                    scores.append(np.mean(s))
                print(f"{drift}\t{correction}\t{fmt}\t{scores[0]:.3f}\t{scores[1]:.3f}\t{ppm}\t{len(s)}", flush=True)


main()
