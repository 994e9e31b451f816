#!/usr/bin/env bash
# Build the fake camera and microphone for headless Chromium ("the applicant's phone") from the real test stream
# testdata/streams/live_two_speakers.webm (a real talking head + a real two-speaker conversation):
#
#   testdata/fake/applicant.y4m   640x480 (pillar-boxed, aspect kept), 15 fps, I420, 357 frames = 23.8 s
#   testdata/fake/applicant.wav   48 kHz mono S16LE, the same 23.8 s
#
# Chromium plays them with --use-file-for-fake-video-capture / --use-file-for-fake-audio-capture and loops both.
# The length is three periods of the stream's ping-pong loop of the carphone frames (238 frames at 30 fps), so
# the looped video never jumps.
#
#   testdata/build_streams.sh          # first: build testdata/streams/
#   testdata/build_fake_capture.sh     # then (idempotent: existing outputs are kept; FORCE=1 rebuilds)
#
# Needs gst-launch-1.0 (gstreamer1.0-tools, -plugins-base/-good, -libav for decodebin's decoders) and
# /usr/bin/python3 (standard library only). testdata/fake/ is git-ignored.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$HERE/streams/live_two_speakers.webm"
OUT="$HERE/fake"
PY="${PYTHON:-/usr/bin/python3}"
FORCE="${FORCE:-0}"
W=640 H=480 FPS=15 FRAMES=357 RATE=48000

die() { echo "build_fake_capture: error: $*" >&2; exit 1; }
say() { echo "build_fake_capture: $*"; }

command -v gst-launch-1.0 >/dev/null || die "gst-launch-1.0 missing (apt: gstreamer1.0-tools)"
for e in y4menc wavenc decodebin videorate videoscale audioresample; do
  gst-inspect-1.0 "$e" >/dev/null 2>&1 || die "GStreamer element $e missing (apt: gstreamer1.0-plugins-{base,good,bad})"
done
[[ -s "$SRC" ]] || die "$SRC missing: run testdata/build_streams.sh first"

mkdir -p "$OUT"
RECIPE="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-64)"
[[ "$(cat "$OUT/.recipe" 2>/dev/null)" == "$RECIPE" ]] || FORCE=1
if [[ "$FORCE" != 1 && -s "$OUT/applicant.y4m" && -s "$OUT/applicant.wav" ]]; then
  say "up to date: $OUT/applicant.y4m, $OUT/applicant.wav"
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
GST() { gst-launch-1.0 -q -e "$@" >"$TMP/gst.log" 2>&1 || { cat "$TMP/gst.log" >&2; die "gst-launch failed"; }; }

GST filesrc location="$SRC" ! decodebin ! videoconvert ! videoscale add-borders=true ! videorate \
  ! "video/x-raw,format=I420,width=$W,height=$H,framerate=$FPS/1,pixel-aspect-ratio=1/1" \
  ! y4menc ! filesink location="$TMP/full.y4m"
GST filesrc location="$SRC" ! decodebin ! audioconvert ! audioresample \
  ! "audio/x-raw,format=S16LE,rate=$RATE,channels=1" ! wavenc ! filesink location="$TMP/full.wav"

# Cut both to FRAMES frames / FRAMES/FPS seconds (y4m frames have a fixed size; the WAV is rewritten).
"$PY" - "$TMP/full.y4m" "$TMP/full.wav" "$OUT/.applicant.y4m.part" "$OUT/.applicant.wav.part" \
  "$W" "$H" "$FPS" "$FRAMES" "$RATE" <<'PY'
import sys, wave
y4m_in, wav_in, y4m_out, wav_out = sys.argv[1:5]
w, h, fps, frames, rate = map(int, sys.argv[5:10])
data = open(y4m_in, "rb").read()
nl = data.index(b"\n")
header = data[:nl + 1]
if not header.startswith(b"YUV4MPEG2 "):
    sys.exit("not a y4m file")
tags = header.decode().split()
if f"W{w}" not in tags or f"H{h}" not in tags:
    sys.exit(f"unexpected y4m header {header!r}")
frame = len(b"FRAME\n") + w * h * 3 // 2
body = data[nl + 1:]
have = len(body) // frame
if have < frames:
    sys.exit(f"only {have} frames decoded, need {frames}")
for i in range(frames):
    if body[i * frame:i * frame + 6] != b"FRAME\n":
        sys.exit(f"frame {i}: bad frame marker")
with open(y4m_out, "wb") as f:
    f.write(header)
    f.write(body[:frames * frame])
with wave.open(wav_in, "rb") as r:
    if (r.getnchannels(), r.getsampwidth(), r.getframerate()) != (1, 2, rate):
        sys.exit("unexpected wav format")
    n = frames * rate // fps
    pcm = r.readframes(n)
    if len(pcm) < 2 * n:
        sys.exit(f"audio too short: {len(pcm) // 2} samples, need {n}")
with wave.open(wav_out, "wb") as o:
    o.setnchannels(1); o.setsampwidth(2); o.setframerate(rate); o.writeframes(pcm)
print(f"build_fake_capture: {frames} frames {w}x{h} @{fps} fps, {n} samples @{rate} Hz ({frames / fps:.2f} s)")
PY
mv -f "$OUT/.applicant.y4m.part" "$OUT/applicant.y4m"
mv -f "$OUT/.applicant.wav.part" "$OUT/applicant.wav"
echo "$RECIPE" >"$OUT/.recipe"
say "built $OUT/applicant.y4m ($(stat -c %s "$OUT/applicant.y4m") bytes), $OUT/applicant.wav ($(stat -c %s "$OUT/applicant.wav") bytes)"
