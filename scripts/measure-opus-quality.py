#!/usr/bin/env python3
"""Opus settings against quality: PESQ of callrec's Opus output against the
payload's own decode (callrec's lossless WAV of the same capture), per
channel that carries audio, over the real captures in ../shared/data and
two two-way conversations spoken by espeak-ng (G.711 and G.722), built into
captures with `make-fixtures --speech-call`.

    pip install pesq soundfile numpy
    swift build -c release && swift build --product make-fixtures
    scripts/measure-opus-quality.py [path/to/callrec] > opus-quality.tsv

PESQ is ITU-T P.862 (narrowband at 8 kHz, wideband P.862.2 at 16 kHz). The
speed side comes from `callrec bench --codec opus --complexity N`.
"""
import glob, os, subprocess, sys, tempfile
import numpy as np
import soundfile
from pesq import pesq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALLREC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/callrec")
CAPTURES = [os.path.join(ROOT, "../shared/data/captures", name) for name in [
    "heplify__rtp_rtcp_sip_ipv4_udp.pcap",   # PCMA, a real two-way call
    "sipnab__sip-rtp-g711.pcap",             # PCMU then PCMA
    "sipnab__b2bua-asterisk.pcapng",         # PCMU through Asterisk
    "rtp-pcap__sip-rtp-g722.pcap",           # G.722, 16 kHz
]]

CALLER_LINES = [
    "Hello, this is Anna from the support desk, how can I help you today?",
    "I see. Could you read me the number on the back of the unit, please?",
    "Thank you. The firmware on that one is old, so we will send you an update tonight.",
    "Is there anything else I can do for you?",
]
CALLEE_LINES = [
    "Hi Anna. My phone drops every call after about two minutes, since Monday.",
    "Sure, it says four seven one one, dash, nine three two, B.",
    "Great, and do I need to restart it afterwards, or does it do that by itself?",
    "No, that was all. Thanks a lot for your help, goodbye.",
]


def spoken(text, voice, rate):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", tmp + "/s.wav", text], check=True)
        subprocess.run(["sox", tmp + "/s.wav", "-r", str(rate), "-b", "16", "-e", "signed", tmp + "/s.raw"], check=True)
        return np.fromfile(tmp + "/s.raw", dtype="<i2")


def conversation(codec, rate, directory):
    """Alternating turns, each reply starting 0.3 s before the other finishes."""
    caller, callee = np.zeros(rate // 2, np.int16), np.zeros(rate // 2, np.int16)
    for mine, theirs in zip(CALLER_LINES, CALLEE_LINES):
        for text, voice, speaker in ((mine, "en-us+m3", 0), (theirs, "en-gb+f3", 1)):
            audio = spoken(text, voice, rate)
            start = max(len(caller), len(callee)) - int(0.3 * rate)
            t = [caller, callee][speaker]
            t = np.concatenate([t, np.zeros(max(0, start - len(t)), np.int16), audio])
            if speaker == 0:
                caller = t
            else:
                callee = t
    n = max(len(caller), len(callee)) + rate // 2
    caller = np.concatenate([caller, np.zeros(n - len(caller), np.int16)])
    callee = np.concatenate([callee, np.zeros(n - len(callee), np.int16)])
    caller.tofile(directory + "/caller.raw")
    callee.tofile(directory + "/callee.raw")
    out = directory + f"/espeak-{codec}.pcap"
    subprocess.run([os.path.join(ROOT, ".build/debug/make-fixtures"), "--speech-call", directory + "/caller.raw",
                    directory + "/callee.raw", codec, out], check=True, capture_output=True)
    return out


SPOKEN = tempfile.mkdtemp(prefix="callrec-speech-")
CAPTURES += [conversation("PCMA", 8000, SPOKEN), conversation("G722", 16000, SPOKEN)]


def convert(capture, out, *args):
    subprocess.run([CALLREC, "convert", "--out", out, *args, capture], check=True, capture_output=True)
    return sorted(glob.glob(os.path.join(out, "*/*/*/*.*[a-z]")))


def channels_of(path, rate):
    if path.endswith(".opus"):
        wav = path + ".wav"
        subprocess.run(["opusdec", "--quiet", "--rate", str(rate), "--force-wav", path, wav], check=True)
        path = wav
    data, file_rate = soundfile.read(path, dtype="int16", always_2d=True)
    assert file_rate == rate, (path, file_rate, rate)
    return data.T


def score(settings):
    scores = []
    for capture in CAPTURES:
        with tempfile.TemporaryDirectory() as tmp:
            refs = [p for p in convert(capture, tmp + "/ref", "--format", "wav") if p.endswith(".wav")]
            outs = [p for p in convert(capture, tmp + "/opus", *settings) if p.endswith(".opus")]
            for ref_path, out_path in zip(refs, outs):
                rate = soundfile.info(ref_path).samplerate
                ref = channels_of(ref_path, rate)
                out = channels_of(out_path, rate)
                for r, o in zip(ref, out):
                    if np.sqrt(np.mean(r.astype(float) ** 2)) < 100:
                        continue  # a silent leg
                    n = min(len(r), len(o))
                    scores.append(pesq(rate, r[:n], o[:n], "nb" if rate == 8000 else "wb"))
    return scores


GRID = [("complexity", c, ["--complexity", str(c)]) for c in range(11)]
GRID += [("bitrate", b, ["--bitrate", str(b)]) for b in ("auto", 12000, 16000, 24000, 32000, 48000, 64000)]
GRID += [("streams", s, ["--opus-streams", s]) for s in ("separate", "coupled")]

print("setting\tvalue\tmean PESQ\tmin PESQ\tchannels")
for name, value, args in GRID:
    s = score(args)
    print(f"{name}\t{value}\t{np.mean(s):.3f}\t{np.min(s):.3f}\t{len(s)}", flush=True)
