// The login page (/console/login): POST /console/api/login, then back to where the user was going (`?next=`, only
// console paths) or to the first page their role may open. No CSRF token is needed for the login itself.
import { STRINGS, LANGS, pickLang, setLang, saveLang, t, applyI18n } from './i18n.js';
import { safeNext, landingPath } from './api.js';

const $ = (sel) => document.querySelector(sel);

function setupLang() {
  setLang(pickLang());
  const sel = $('#lang');
  for (const [code, name] of LANGS) {
    if (!STRINGS[code]) continue;
    const o = document.createElement('option');
    o.value = code;
    o.textContent = name;
    sel.append(o);
  }
  sel.value = document.documentElement.lang;
  sel.addEventListener('change', () => {
    saveLang(sel.value);
    setLang(sel.value);
    applyI18n(document, 'login_title');
  });
  applyI18n(document, 'login_title');
}

function showError(text) {
  const el = $('[data-testid="login-error"]');
  el.textContent = text;
  el.hidden = !text;
}

async function submit(ev) {
  ev.preventDefault();
  const username = $('#username').value.trim();
  const password = $('#password').value;
  if (!username || !password) {
    showError(t('login_missing'));
    (username ? $('#password') : $('#username')).focus();
    return;
  }
  const button = $('[data-testid="login-submit"]');
  button.disabled = true;
  button.textContent = t('signing_in');
  showError('');
  try {
    const res = await fetch('/console/api/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (res.ok) {
      const body = await res.json().catch(() => ({}));
      const next = safeNext(new URLSearchParams(location.search).get('next'));
      document.body.dataset.view = 'login-ok';
      location.assign(next || landingPath(body?.user?.permissions || []));
      return;
    }
    if (res.status === 401) showError(t('login_bad'));
    else if (res.status === 429) showError(t('login_locked'));
    else showError(t('login_failed', { status: res.status }));
    $('#password').select();
  } catch {
    showError(t('err_network'));
  }
  button.disabled = false;
  button.textContent = t('sign_in');
}

setupLang();
if (new URLSearchParams(location.search).has('next')) $('[data-testid="login-expired"]').hidden = false;
$('[data-testid="login-form"]').addEventListener('submit', submit);
$('#username').focus();
