// The console's API client: JSON in and out, the CSRF token on every
// mutating call, cookies same-origin only. Tokens never go into a URL.

let csrf = '';

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.fields = body.fields || [];
    this.reason = body.reason || '';
  }
}

async function call(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, opts);
  const text = await res.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { message: text }; }
  if (res.status === 401 && path !== '/api/login') {
    // The token expired or was never given: back to the sign-in form.
    dispatchEvent(new Event('crmflow-signin'));
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const api = {
  async session() {
    const s = await call('GET', '/api/session');
    csrf = s.csrfToken;
    return s;
  },
  get: (p) => call('GET', p),
  post: (p, body) => call('POST', p, body ?? {}),
};

export const nsPath = (ns, rest) => `/api/namespaces/${encodeURIComponent(ns)}${rest}`;
