// A tiny static server for the page tests, laid out like `facereview serve`:
//   GET /join/{token}            -> web/applicant/index.html
//   GET /static/applicant/{file} -> web/applicant/{file}
// Everything else is 404 (the tests mock /api, /whip and /ws in the browser with page.route / routeWebSocket).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize, extname, sep } from 'node:path';
import { REPO } from './browser.mjs';

const ROOT = join(REPO, 'web', 'applicant');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

export async function startStaticServer() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = null;
    if (req.method === 'GET' && /^\/join\/[^/]+\/?$/.test(url.pathname)) file = join(ROOT, 'index.html');
    else if (req.method === 'GET' && url.pathname.startsWith('/static/applicant/')) {
      let rel = '';
      try { rel = decodeURIComponent(url.pathname.slice('/static/applicant/'.length)); } catch { /* bad escape */ }
      const candidate = normalize(join(ROOT, rel));
      if (rel && candidate.startsWith(ROOT + sep)) file = candidate;
    }
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', message: 'not found' }));
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', message: 'not found' }));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
