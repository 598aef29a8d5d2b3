// Hash routing: #/ns/<namespace>/<page>/<name>?query. The server serves the
// same index.html for every path, so links survive reloads.
import { useEffect, useState } from 'preact/hooks';

export function parseRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: Object.fromEntries(new URLSearchParams(query)) };
}

export function useRoute() {
  const [route, setRoute] = useState(parseRoute());
  useEffect(() => {
    const on = () => setRoute(parseRoute());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(ns, ...rest) {
  let q = '';
  if (rest.length && typeof rest[rest.length - 1] === 'object') {
    const params = new URLSearchParams(Object.entries(rest.pop()).filter(([, v]) => v));
    q = params.toString() ? '?' + params : '';
  }
  return '#/ns/' + [ns, ...rest].map(encodeURIComponent).join('/') + q;
}

export function go(url) { location.hash = url.replace(/^#/, ''); }
