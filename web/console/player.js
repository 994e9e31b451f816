// The session player: one <video> element over the recording's parts (`recording.parts`, each with its
// `offset_ns` on the session's media clock). Times given to and read from the player are session media time in
// seconds, so reasons, timelines and location fixes (all on the media clock) line up with what is shown: a seek
// loads the part that holds the time, and the end of a part continues with the next one.

/**
 * @param {HTMLVideoElement} video
 * @param {{index:number, url:string, offset_ns:number}[]} parts
 * @param {{onPart?: (i:number, n:number) => void, onMeta?: () => void}} hooks
 */
export function createPlayer(video, parts, hooks = {}) {
  const list = (parts || [])
    .filter((p) => p && typeof p.url === 'string' && p.url)
    .map((p) => ({ index: p.index, url: p.url, offset: (Number(p.offset_ns) || 0) / 1e9, duration: null }))
    .sort((a, b) => a.offset - b.offset);
  let cur = -1;
  let loading = null;
  let token = 0;
  /** The target of a seek still loading its part (time() reports it until the video has it). */
  let pending = null;

  /** The part whose offset is the last one at or before t (seconds). */
  function partFor(t) {
    let i = 0;
    for (let k = 0; k < list.length; k++) if (list[k].offset <= t + 1e-6) i = k;
    return i;
  }

  function load(i) {
    if (i === cur && loading) return loading;
    cur = i;
    hooks.onPart?.(i, list.length);
    loading = new Promise((resolve) => {
      const done = () => {
        video.removeEventListener('loadedmetadata', done);
        video.removeEventListener('error', done);
        if (Number.isFinite(video.duration)) list[i].duration = video.duration;
        resolve();
      };
      video.addEventListener('loadedmetadata', done);
      video.addEventListener('error', done);
      video.src = list[i].url;
    });
    return loading;
  }

  /** Session time now (seconds). */
  function time() {
    if (pending !== null) return pending;
    if (cur < 0) return 0;
    return list[cur].offset + (video.currentTime || 0);
  }

  /**
   * Seek to session time t (seconds). `play`: true starts playing, false pauses, undefined keeps the state.
   * A later seek supersedes an earlier one still loading its part.
   */
  async function seek(t, { play } = {}) {
    if (!list.length) return;
    const my = ++token;
    const target = Math.max(0, Number(t) || 0);
    pending = target;
    const wasPlaying = !video.paused && !video.ended;
    if (play === false) video.pause();
    const i = partFor(target);
    if (i !== cur) await load(i);
    else if (loading) await loading;
    if (my !== token) return;
    let local = Math.max(0, target - list[i].offset);
    const d = list[i].duration;
    if (d != null && local > d) local = Math.max(0, d - 0.05);
    video.currentTime = local;
    pending = null;
    if (play === true || (play === undefined && wasPlaying)) video.play().catch(() => {});
  }

  async function play() {
    if (!list.length) return;
    if (cur < 0) await load(0);
    await video.play();
  }

  function pause() {
    video.pause();
  }

  // the end of one part continues with the next
  video.addEventListener('ended', () => {
    if (cur >= 0 && cur < list.length - 1) {
      const next = cur + 1;
      const my = ++token;
      load(next).then(() => {
        if (my !== token) return;
        video.currentTime = 0;
        video.play().catch(() => {});
      });
    }
  });
  video.addEventListener('loadedmetadata', () => {
    if (cur >= 0 && Number.isFinite(video.duration)) list[cur].duration = video.duration;
    hooks.onMeta?.();
  });

  return {
    parts: list,
    get current() {
      return cur;
    },
    /** The media clock's end as far as the parts tell (seconds; 0 when no part's length is known yet). */
    knownEnd() {
      let end = 0;
      for (const p of list) if (p.duration != null) end = Math.max(end, p.offset + p.duration);
      return end;
    },
    time,
    seek,
    play,
    pause,
    load,
  };
}
