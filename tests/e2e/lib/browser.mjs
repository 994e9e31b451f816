// Launching headless Chromium as "the applicant's phone" (docs: /work/shared/design/PLATFORM.md, tests/e2e/README.md).
import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const DEFAULT_VIDEO = join(REPO, 'testdata', 'fake', 'applicant.y4m');
export const DEFAULT_AUDIO = join(REPO, 'testdata', 'fake', 'applicant.wav');
export const PHONE_VIEWPORT = { width: 412, height: 915 };

/** Chromium flags: headless hygiene, loopback WebRTC, fake camera/microphone (files when given). */
export function chromiumArgs({ video, audio, insecureOrigins = [] } = {}) {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--no-default-browser-check',
    '--allow-loopback-in-peer-connection',
    // real host candidates instead of mDNS names (a server on loopback cannot resolve *.local)
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
  ];
  if (video) args.push(`--use-file-for-fake-video-capture=${video}`);
  if (audio) args.push(`--use-file-for-fake-audio-capture=${audio}`);
  // camera, microphone and geolocation need a secure context: allow plain http on a non-loopback test address
  if (insecureOrigins.length) args.push(`--unsafely-treat-insecure-origin-as-secure=${insecureOrigins.join(',')}`);
  return args;
}

/**
 * Launch Chromium with a fresh profile (a new --user-data-dir, removed by close()) and return
 * {context, close}. `contextOptions` go to the persistent context (viewport, geolocation, permissions, locale ...).
 */
export async function launchPhone({ video, audio, insecureOrigins, contextOptions = {}, headless = true } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium, or set CHROMIUM)`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'facereview-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless,
      args: chromiumArgs({ video, audio, insecureOrigins }),
      viewport: PHONE_VIEWPORT,
      isMobile: false,
      hasTouch: true,
      ...contextOptions,
    });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      let timer;
      await Promise.race([context.close(), new Promise((r) => { timer = setTimeout(r, 10000); })]);
      clearTimeout(timer);
    } catch { /* already gone */ }
    try {
      context.browser()?.process?.()?.kill('SIGKILL');
    } catch { /* gone */ }
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}

/** Launch a plain (non-persistent) browser for page tests: a fresh profile per launch, made by playwright. */
export async function launchBrowser({ video, audio } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install chromium, or set CHROMIUM)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs({ video, audio }) });
}
