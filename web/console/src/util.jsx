// Small shared pieces: times, errors, state badges.

export function ago(ts) {
  if (!ts) return '—';
  const s = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
  if (s < 0) return 'in ' + span(-s);
  return span(s) + ' ago';
}

function span(s) {
  if (s < 60) return s + 's';
  if (s < 3600) return Math.round(s / 60) + 'm';
  if (s < 86400) return Math.round(s / 3600) + 'h';
  return Math.round(s / 86400) + 'd';
}

export function time(ts) {
  return ts ? new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—';
}

export function Badge({ value }) {
  return <span class={'badge b-' + String(value || 'none').toLowerCase()}>{value || '—'}</span>;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert">
      <strong>{error.message}</strong>
      {error.fields && error.fields.length > 0 && !(error.fields.length === 1 && error.message.includes(error.fields[0].message)) && (
        <ul>{error.fields.map((f) => <li><code>{f.field}</code>: {f.message}</li>)}</ul>
      )}
    </div>
  );
}
