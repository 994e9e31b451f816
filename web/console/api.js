// The console's fetch wrapper (docs/console.md): same-origin credentials (the HttpOnly `fr_console` cookie), the
// login's CSRF token as `X-CSRF-Token` on every request that changes state, JSON in and out, and one way to
// handle errors: a 401 sends the browser to the login page (coming back here afterwards), anything else becomes
// an ApiError with the HTTP status and the server's `{error, message}`.

export const API = '/console/api';

let me = null;

/** An HTTP error from the console API: `status` (0 = network), `code` (the server's `error`), `message`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || null;
  }
}

/** Where the login page sends the user back to: only paths inside the console. */
export function safeNext(next) {
  if (typeof next !== 'string') return null;
  if (!next.startsWith('/console') || next.startsWith('//') || next.startsWith('/console/login')) return null;
  if (/[\\\s]/.test(next)) return null;
  return next;
}

/** Go to the login page, remembering where we were. */
export function toLogin() {
  const here = location.pathname + location.search;
  const next = safeNext(here);
  location.assign(`/console/login${next && next !== '/console' ? `?next=${encodeURIComponent(next)}` : ''}`);
}

/**
 * Calls the console API. `path` is relative to /console/api (`/queue?…`). Returns the parsed JSON body (or null
 * for an empty body). Throws ApiError; on 401 it first starts the move to the login page (the promise then
 * rejects with status 401 so callers stop).
 */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const upper = method.toUpperCase();
  if (upper !== 'GET' && upper !== 'HEAD' && me?.csrf_token) headers['X-CSRF-Token'] = me.csrf_token;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, { method: upper, headers, body: payload, credentials: 'same-origin', signal, cache: 'no-store' });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', String(e?.message || e));
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.status === 401) {
    toLogin();
    throw new ApiError(401, data?.error || 'unauthorized', data?.message);
  }
  if (!res.ok) throw new ApiError(res.status, data?.error, data?.message || res.statusText);
  return data;
}

/** The logged-in user: `{user:{username, display_name, role, permissions}, csrf_token}` (401 → login page). */
export async function loadMe() {
  me = await api('/me');
  return me;
}

export function currentUser() {
  return me?.user || null;
}

/** Whether the logged-in user has a permission (`queue.view`, `decide`, …). */
export function can(permission) {
  return Boolean(me?.user?.permissions?.includes(permission));
}

/** The first page this user may open (used after login and for the brand link). */
export function landingPath(permissions = me?.user?.permissions || []) {
  if (permissions.includes('queue.view')) return '/console';
  if (permissions.includes('users.manage')) return '/console/admin';
  if (permissions.includes('audit.view')) return '/console/audit';
  return '/console';
}

export async function logout() {
  try {
    await api('/logout', { method: 'POST' });
  } catch {
    /* gone already: the login page either way */
  }
  me = null;
  location.assign('/console/login');
}
