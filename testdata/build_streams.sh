#!/usr/bin/env bash
# Build the recorded test streams in testdata/streams/ from the real media in testdata/media/.
#
#   python3 scripts/fetch.py testdata/fetch.toml   # first: fetch the media
#   testdata/build_streams.sh                       # then: build (idempotent: existing outputs are kept)
#   FORCE=1 testdata/build_streams.sh               # rebuild everything
#
# Needs: gst-launch-1.0 + gst-discoverer-1.0 (Debian: gstreamer1.0-tools, gstreamer1.0-plugins-base-apps,
# gstreamer1.0-plugins-{base,good,bad}, gstreamer1.0-libav) and /usr/bin/python3 with numpy + PIL
# (Debian: python3-numpy python3-pil). Encoders run single-threaded so the decoded streams are identical on every
# machine (only container bytes such as the muxing date differ); golden verdicts depend on that.
# See testdata/README.md for what each stream contains and what tests can assert.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MEDIA="$HERE/media"
OUT="$HERE/streams"
PY="${PYTHON:-/usr/bin/python3}"
FORCE="${FORCE:-0}"

die() { echo "build_streams: error: $*" >&2; exit 1; }
say() { echo "build_streams: $*"; }

command -v gst-launch-1.0 >/dev/null || die "gst-launch-1.0 missing (apt: gstreamer1.0-tools)"
command -v gst-discoverer-1.0 >/dev/null || die "gst-discoverer-1.0 missing (apt: gstreamer1.0-plugins-base-apps)"
for e in vp8enc vp9enc opusenc openh264enc voaacenc webmmux matroskamux mp4mux avdec_h264 jpegdec rawvideoparse; do
  gst-inspect-1.0 "$e" >/dev/null 2>&1 || die "GStreamer element $e missing (apt: gstreamer1.0-plugins-{base,good,bad}, gstreamer1.0-libav)"
done
for f in carphone_pristine.mp4 sample.wav obama.jpg cate_blanch.mp3 test.mov heath_ledger.mp3 scenetext02.jpg; do
  [[ -f "$MEDIA/$f" ]] || die "$MEDIA/$f missing: run 'python3 scripts/fetch.py testdata/fetch.toml' first"
done

mkdir -p "$OUT"
# Streams built by another version of this script are rebuilt (golden verdicts depend on the exact recipe).
RECIPE="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-64)"
[[ "$(cat "$OUT/.recipe" 2>/dev/null)" == "$RECIPE" ]] || FORCE=1
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# needed NAME: true if $OUT/NAME must be built
needed() { [[ "$FORCE" == 1 || ! -s "$OUT/$1" ]]; }
# finish NAME: move the finished temporary output into place (outputs appear only when complete)
finish() { mv -f "$OUT/.$1.part" "$OUT/$1"; say "built $1"; }
GST() { gst-launch-1.0 -q -e "$@" >"$TMP/gst.log" 2>&1 || { cat "$TMP/gst.log" >&2; die "gst-launch failed"; }; }

cat >"$TMP/helper.py" <<'PY'
"""Frame and audio generators for build_streams.sh (raw frames go to stdout)."""
import math, sys, wave

def loop(raw, frame_bytes, nframes):
    """Ping-pong loop (0..n-1, n-2..1, ...) of raw frames, so the motion never jumps."""
    data = open(raw, "rb").read()
    n = len(data) // frame_bytes
    if n < 2:
        sys.exit(f"helper: {raw}: only {n} frames")
    order = list(range(n)) + list(range(n - 2, 0, -1))
    out = sys.stdout.buffer
    for i in range(nframes):
        k = order[i % len(order)]
        out.write(data[k * frame_bytes:(k + 1) * frame_bytes])

def photo(photo_path, bg_path, fps, seconds, motion_csv):
    """A printed photo (white border) held in front of a blurred static scene and moved rigidly:
    smooth translation + small in-plane rotation + slight scale + hand tremor. RGB frames 640x480."""
    import numpy as np
    from PIL import Image, ImageFilter, ImageOps
    W, H = 640, 480
    bg = ImageOps.fit(Image.open(bg_path).convert("RGB"), (W, H), Image.BICUBIC)
    bg = bg.filter(ImageFilter.GaussianBlur(4)).convert("RGBA")
    src = Image.open(photo_path).convert("RGB")
    # obama.jpg is 910x1137: a 4:5 print of the head and shoulders
    src = src.crop((155, 0, 755, 750)).resize((256, 320), Image.LANCZOS)
    card = ImageOps.expand(src, border=8, fill=(245, 245, 240)).convert("RGBA")
    pw, ph = card.size
    rng = np.random.default_rng(1234)
    out = sys.stdout.buffer
    log = open(motion_csv, "w")
    # face centre (between eyes and mouth) in card pixels, relative to the card centre; face ~100x125 px
    fdx, fdy = 153 - pw / 2, 118 - ph / 2
    log.write("frame,t,card_cx,card_cy,angle_deg,scale,face_cx,face_cy\n")
    tau = 2 * math.pi
    for i in range(int(fps * seconds)):
        t = i / fps
        tx = 40 * math.sin(tau * 0.11 * t) + 12 * math.sin(tau * 0.37 * t + 1.0) + 2 * math.sin(tau * 1.7 * t)
        ty = 25 * math.sin(tau * 0.08 * t + 0.5) + 8 * math.sin(tau * 0.29 * t + 2.0) + 2 * math.sin(tau * 2.1 * t + 1)
        ang = 5 * math.sin(tau * 0.09 * t + 0.3) + 1.5 * math.sin(tau * 0.33 * t)
        s = 1 + 0.06 * math.sin(tau * 0.05 * t + 1.0)
        ox, oy = W / 2 + tx, H / 2 + ty
        th = math.radians(ang)
        # inverse map (output pixel -> card pixel) of p_out = s R(th) (p_in - centre) + o
        a, b = math.cos(th) / s, math.sin(th) / s
        d, e = -math.sin(th) / s, math.cos(th) / s
        c = pw / 2 - a * ox - b * oy
        f = ph / 2 - d * ox - e * oy
        layer = card.transform((W, H), Image.AFFINE, (a, b, c, d, e, f), resample=Image.BICUBIC)
        frame = Image.alpha_composite(bg, layer).convert("RGB")
        px = np.asarray(frame, dtype=np.float32) + rng.normal(0, 1.5, (H, W, 3))  # sensor noise
        out.write(np.clip(px, 0, 255).astype(np.uint8).tobytes())
        fx = ox + s * (math.cos(th) * fdx - math.sin(th) * fdy)
        fy = oy + s * (math.sin(th) * fdx + math.cos(th) * fdy)
        log.write(f"{i},{t:.4f},{ox:.2f},{oy:.2f},{ang:.3f},{s:.4f},{fx:.1f},{fy:.1f}\n")
    log.close()

def audio(out_wav, rate, seconds, *placements):
    """Mono S16LE WAV of SECONDS: silence with raw S16LE clips placed at START seconds (START:FILE ...)."""
    total = int(rate * seconds)
    buf = bytearray(2 * total)
    for p in placements:
        start, raw = p.split(":", 1)
        clip = open(raw, "rb").read()
        o = 2 * int(float(start) * rate)
        clip = clip[: max(0, len(buf) - o)]
        buf[o:o + len(clip)] = clip
    with wave.open(out_wav, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate); w.writeframes(bytes(buf))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "loop":
        loop(args[0], int(args[1]), int(args[2]))
    elif cmd == "photo":
        photo(args[0], args[1], int(args[2]), float(args[3]), args[4])
    elif cmd == "audio":
        audio(args[0], int(args[1]), float(args[2]), *args[3:])
    else:
        sys.exit(f"helper: unknown command {cmd}")
PY
HELPER=("$PY" "$TMP/helper.py")
need_pydeps() { "$PY" -c 'import numpy, PIL' 2>/dev/null || die "$PY lacks numpy/PIL (apt: python3-numpy python3-pil)"; }

# decode_pcm SRC RATE DEST: decode any audio file to raw mono S16LE at RATE
decode_pcm() {
  GST filesrc location="$1" ! decodebin ! audioconvert ! audioresample \
    ! "audio/x-raw,format=S16LE,rate=$2,channels=1" ! filesink location="$3"
}
# carphone_raw: 120 raw I420 176x144 frames of the talking head
CARPHONE_RAW="$TMP/carphone.i420"
CARPHONE_FRAME=$((176 * 144 * 3 / 2))
carphone_raw() {
  [[ -s "$CARPHONE_RAW" ]] && return 0
  GST filesrc location="$MEDIA/carphone_pristine.mp4" ! qtdemux ! h264parse ! avdec_h264 ! videoconvert \
    ! video/x-raw,format=I420,width=176,height=144 ! filesink location="$CARPHONE_RAW"
}
# carphone 30 s at 30 fps, ping-pong looped, scaled to 352x288 (pipeline fragment reading stdin)
CARPHONE_30S=(fdsrc fd=0 ! rawvideoparse format=i420 width=176 height=144 framerate=30/1
  ! videoscale method=lanczos ! video/x-raw,width=352,height=288 ! videoconvert)

# a. real talking head (carphone, looped to 30 s) + real two-speaker conversation (sample.wav): VP8 + Opus, WebM
S=live_two_speakers.webm
if needed $S; then
  carphone_raw
  "${HELPER[@]}" loop "$CARPHONE_RAW" $CARPHONE_FRAME 900 | GST "${CARPHONE_30S[@]}" \
    ! vp8enc deadline=1 cpu-used=4 threads=1 target-bitrate=600000 keyframe-max-dist=60 ! queue ! webmmux name=m \
    ! filesink location="$OUT/.$S.part" \
    filesrc location="$MEDIA/sample.wav" ! wavparse ! audioconvert ! audioresample ! audio/x-raw,rate=48000 \
    ! opusenc bitrate=48000 ! queue ! m.
  finish $S
fi

# b. photo attack: obama.jpg held and moved rigidly, 640x480 15 fps 20 s, with another person's voice: H.264 + AAC, MP4
S=photo_attack.mp4
if needed $S; then
  need_pydeps
  decode_pcm "$MEDIA/cate_blanch.mp3" 32000 "$TMP/cate.pcm"
  "${HELPER[@]}" audio "$TMP/photo_voice.wav" 32000 20 "0.5:$TMP/cate.pcm" "9.5:$TMP/cate.pcm"
  "${HELPER[@]}" photo "$MEDIA/obama.jpg" "$MEDIA/scenetext02.jpg" 15 20 "$OUT/photo_attack.motion.csv" \
    | GST fdsrc fd=0 ! rawvideoparse format=rgb width=640 height=480 framerate=15/1 ! videoconvert \
    ! video/x-raw,format=I420 ! openh264enc multi-thread=1 rate-control=bitrate bitrate=1200000 gop-size=30 ! h264parse \
    ! queue ! mp4mux name=m ! filesink location="$OUT/.$S.part" \
    filesrc location="$TMP/photo_voice.wav" ! wavparse ! audioconvert ! voaacenc bitrate=64000 ! aacparse ! queue ! m.
  finish $S
fi

# c. real webcam face (bob.io.video test.mov, 15 s MJPEG) re-encoded H.264 + a man's voice (heath_ledger.mp3 x2), Opus, Matroska
S=webcam_h264.mkv
if needed $S; then
  decode_pcm "$MEDIA/heath_ledger.mp3" 48000 "$TMP/heath.pcm"
  "${HELPER[@]}" audio "$TMP/webcam_voice.wav" 48000 15 "1.0:$TMP/heath.pcm" "7.0:$TMP/heath.pcm"
  GST filesrc location="$MEDIA/test.mov" ! qtdemux ! jpegdec ! videoconvert ! video/x-raw,format=I420 \
    ! openh264enc multi-thread=1 rate-control=bitrate bitrate=800000 gop-size=50 ! h264parse ! queue ! matroskamux name=m \
    ! filesink location="$OUT/.$S.part" \
    filesrc location="$TMP/webcam_voice.wav" ! wavparse ! audioconvert ! opusenc bitrate=48000 ! queue ! m.
  finish $S
fi

# e. face missing most of the call: the talking head for 6 s, then the camera shows the street (scenetext02.jpg,
#    no people) for 24 s, with the two-speaker conversation throughout: VP8 + Opus, WebM, 30 s
S=face_missing.webm
if needed $S; then
  carphone_raw
  GST filesrc location="$MEDIA/scenetext02.jpg" ! jpegdec ! videoscale ! videoconvert \
    ! video/x-raw,format=I420,width=176,height=144 ! filesink location="$TMP/street1.i420"
  cat "$TMP/street1.i420" "$TMP/street1.i420" >"$TMP/street.i420"
  { "${HELPER[@]}" loop "$CARPHONE_RAW" $CARPHONE_FRAME 180; "${HELPER[@]}" loop "$TMP/street.i420" $CARPHONE_FRAME 720; } \
    | GST "${CARPHONE_30S[@]}" \
    ! vp8enc deadline=1 cpu-used=4 threads=1 target-bitrate=600000 keyframe-max-dist=60 ! queue ! webmmux name=m \
    ! filesink location="$OUT/.$S.part" \
    filesrc location="$MEDIA/sample.wav" ! wavparse ! audioconvert ! audioresample ! audio/x-raw,rate=48000 \
    ! opusenc bitrate=48000 ! queue ! m.
  finish $S
fi

# d. bad / partial inputs
S=no_audio.webm   # the same 30 s talking head as a., VP9, no audio track
if needed $S; then
  carphone_raw
  "${HELPER[@]}" loop "$CARPHONE_RAW" $CARPHONE_FRAME 900 | GST "${CARPHONE_30S[@]}" \
    ! vp9enc deadline=1 cpu-used=8 threads=1 target-bitrate=500000 keyframe-max-dist=60 \
    ! webmmux ! filesink location="$OUT/.$S.part"
  finish $S
fi
S=no_video.webm   # the 30 s two-speaker conversation only, Opus, no video track
if needed $S; then
  GST filesrc location="$MEDIA/sample.wav" ! wavparse ! audioconvert ! audioresample ! audio/x-raw,rate=48000 \
    ! opusenc bitrate=48000 ! webmmux ! filesink location="$OUT/.$S.part"
  finish $S
fi
S=truncated.webm  # first 40 % of the bytes of live_two_speakers.webm (cut mid-cluster, no cues)
if needed $S; then
  size=$(stat -c %s "$OUT/live_two_speakers.webm")
  head -c $((size * 40 / 100)) "$OUT/live_two_speakers.webm" >"$OUT/.$S.part"
  finish $S
fi
S=not_media.webm  # plain text with a media extension
if needed $S; then
  printf 'This is not a WebM file.\nIt is plain text used to test how facereview rejects bad input.\n' >"$OUT/.$S.part"
  finish $S
fi

# ---- check every stream with gst-discoverer-1.0 and print a table
"$PY" - "$OUT" <<'PY'
import os, re, subprocess, sys
out = sys.argv[1]
names = ["live_two_speakers.webm", "photo_attack.mp4", "webcam_h264.mkv",
         "no_audio.webm", "no_video.webm", "truncated.webm", "not_media.webm"]
print(f"{'stream':24} {'bytes':>9} {'duration':>9} {'container':10} {'video':22} {'audio'}")
for n in names:
    p = os.path.join(out, n)
    r = subprocess.run(["gst-discoverer-1.0", "-t", "20", p], capture_output=True, text=True)
    txt = r.stdout + r.stderr
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", txt)
    dur = f"{int(dur[1]) * 3600 + int(dur[2]) * 60 + float(dur[3]):.2f}s" if dur else "-"
    cont = re.search(r"container(?: #\d+)?: (.+)", txt)
    cont = cont[1].strip() if cont else "-"
    video, audio = "-", "-"
    for block in re.split(r"\n\s*(?=(?:video|audio|container|subtitles|unknown)(?: #\d+)?:)", txt):
        head = block.strip().split("\n")[0]
        g = lambda k: (re.search(rf"{k}: (\S+)", block) or [None, "?"])[1]
        if head.startswith("video"):
            codec = re.sub(r" \(.*\)| Video", "", head.split(':', 1)[1].strip())
            video = f"{codec} {g('Width')}x{g('Height')} @{g('Frame rate')}"
        elif head.startswith("audio"):
            codec = head.split(':', 1)[1].strip().replace("MPEG-4 AAC", "AAC")
            audio = f"{codec} {g('Sample rate')}Hz {g('Channels')}ch"
    if dur == "-" and "error" in txt.lower():
        err = re.search(r"An error was encountered[^\n]*\n\s*([^\n]+)", txt)
        video, audio = "error:", (err[1].strip() if err else "?")
    print(f"{n:24} {os.path.getsize(p):>9} {dur:>9} {cont[:10]:10} {video:22} {audio}")
PY
echo "$RECIPE" >"$OUT/.recipe"
