// Running an impairment relay process (`facereview-impair`, or the stand-in lib/fake-relay.mjs) for the driver:
//   <cmd> --upstream IP:PORT --profile NAME [--seed N] --offset-ms X --max-s S
// prints {"listen":"127.0.0.1:L","profile":"NAME"}, relays UDP until its stdin closes, then prints {"stats":{...}}.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseHostPort } from './sdp.mjs';

/** The program and leading arguments for `cmd`: node for a .mjs/.js script, else the command itself. */
export function relayCommand(cmd) {
  return /\.(mjs|cjs|js)$/.test(cmd) ? [process.execPath, [cmd]] : [cmd, []];
}

/**
 * Start a relay towards `upstream` ("ip:port"). Resolves {profile, listen: {ip, port}, listenText, stop} once it
 * printed its listen line; rejects when it cannot start, exits first, or says nothing within `startMs`.
 * `kill()` ends it at once; `stop()` closes its stdin and resolves its stats (null when it printed none within `stopMs`; it is killed then).
 * `log(line)` gets its stderr lines.
 */
export function startRelay({ cmd, upstream, profile, seed, offsetMs = 0, maxS, startMs = 10000, log = () => {} }) {
  const [file, pre] = relayCommand(cmd);
  const args = [...pre, '--upstream', upstream, '--profile', profile, '--offset-ms', String(Math.max(0, Math.round(offsetMs)))];
  if (seed !== undefined) args.push('--seed', String(seed));
  if (maxS !== undefined) args.push('--max-s', String(Math.ceil(maxS)));
  return new Promise((resolve, reject) => {
    const proc = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let exited = false;
    let stats = null;
    let onStats = null;
    const exitWaiters = [];
    proc.stdin.on('error', () => { /* it exited: nothing to close */ });
    createInterface({ input: proc.stderr }).on('line', (l) => log(l));
    const timer = setTimeout(() => {
      fail(new Error(`${cmd} printed no listen line within ${startMs} ms`));
      proc.kill('SIGKILL');
    }, startMs);
    let started = false;
    const fail = (e) => {
      if (started) return;
      started = true;
      clearTimeout(timer);
      reject(e);
    };
    proc.on('error', (e) => fail(new Error(`${cmd}: ${e.message}`)));
    proc.on('exit', (code, signal) => {
      exited = true;
      fail(new Error(`${cmd} exited (${signal ?? code}) before listening`));
      onStats?.();
      for (const w of exitWaiters.splice(0)) w();
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let j;
      try {
        j = JSON.parse(line);
      } catch {
        log(`(stdout) ${line}`);
        return;
      }
      if (!started && typeof j.listen === 'string') {
        let listen;
        try {
          listen = parseHostPort(j.listen);
        } catch (e) {
          fail(e);
          proc.kill('SIGKILL');
          return;
        }
        started = true;
        clearTimeout(timer);
        resolve({ profile: j.profile ?? profile, listen, listenText: j.listen, pid: proc.pid, stop,
          kill: () => { if (!exited) proc.kill('SIGKILL'); } });
      } else if (j.stats !== undefined) {
        stats = j.stats;
        onStats?.();
      }
    });

    /** Close stdin, wait for the stats line (and the exit), kill it after stopMs. */
    async function stop(stopMs = 5000) {
      if (!exited) proc.stdin.end();
      await new Promise((r) => {
        const t = setTimeout(r, stopMs);
        const check = () => { if (stats !== null || exited) { clearTimeout(t); r(); } };
        onStats = check;
        check();
      });
      if (!exited) {
        await new Promise((r) => {
          const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, stats !== null ? 2000 : 0);
          exitWaiters.push(() => { clearTimeout(t); r(); });
        });
      }
      return stats;
    }
  });
}
