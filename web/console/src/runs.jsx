import { useEffect, useState } from 'preact/hooks';
import { api, nsPath } from './api.js';
import { href, go } from './router.js';
import { ago, time, Badge, ErrorBox } from './util.jsx';

const PHASES = ['', 'Pending', 'Running', 'Waiting', 'Succeeded', 'Failed', 'Cancelled'];
const FINISHED = ['Succeeded', 'Failed', 'Cancelled'];

export function RunsPage({ ns, query }) {
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [stack, setStack] = useState([]); // continue tokens of the pages before this one
  const [filters, setFilters] = useState({ workflow: query.workflow || '', subject: query.subject || '', phase: query.phase || '' });
  const cont = query.continue || '';
  useEffect(() => {
    const q = new URLSearchParams(Object.entries({ ...query, limit: query.limit || '50' }).filter(([, v]) => v));
    const load = () => api.get(nsPath(ns, '/runs?' + q)).then((d) => { setPage(d); setError(null); }).catch(setError);
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [ns, JSON.stringify(query)]);
  const apply = (e) => { e.preventDefault(); setStack([]); go(href(ns, 'runs', filters)); };
  return (
    <section>
      <div class="toolbar"><h1>Runs</h1></div>
      <form class="row filters" onSubmit={apply}>
        <label>Workflow <input id="filter-workflow" value={filters.workflow} onInput={(e) => setFilters({ ...filters, workflow: e.target.value })} /></label>
        <label>Subject <input id="filter-subject" value={filters.subject} onInput={(e) => setFilters({ ...filters, subject: e.target.value })} /></label>
        <label>Phase <select id="filter-phase" value={filters.phase} onChange={(e) => setFilters({ ...filters, phase: e.target.value })}>
          {PHASES.map((p) => <option value={p}>{p || 'any'}</option>)}</select></label>
        <button type="submit" id="filter-apply">Filter</button>
      </form>
      <ErrorBox error={error} />
      {page && (
        <div>
          <table id="runs">
            <thead><tr><th>Run</th><th>Workflow</th><th>Subject</th><th>Phase</th><th>Step</th><th>Event</th><th>Created</th></tr></thead>
            <tbody>{page.items.map((r) => (
              <tr data-name={r.name}>
                <td><a href={href(ns, 'runs', r.name)}>{r.name}</a>{r.dryRun && <span class="badge">test</span>}</td>
                <td>{r.workflow}</td><td><a href={href(ns, 'runs', { subject: r.subject })}>{r.subject}</a></td>
                <td><Badge value={r.phase} /></td><td>{r.currentStep}</td><td>{r.eventType}</td><td title={time(r.created)}>{ago(r.created)}</td>
              </tr>
            ))}</tbody>
          </table>
          {page.items.length === 0 && !(page.archived || []).length && <p class="muted" id="no-runs">No runs match.</p>}
          {(page.archived || []).length > 0 && (
            <div>
              <h3>Finished runs from the run history</h3>
              <p class="muted">These runs have left the cluster; the newest {page.archived.length} are shown.</p>
              <table id="archived-runs">
                <thead><tr><th>Run</th><th>Workflow</th><th>Subject</th><th>Phase</th><th>Event</th><th>Created</th></tr></thead>
                <tbody>{page.archived.map((r) => (
                  <tr data-name={r.name}>
                    <td><a href={href(ns, 'runs', r.name)}>{r.name}</a><span class="badge">history</span></td>
                    <td>{r.workflow}</td><td><a href={href(ns, 'runs', { subject: r.subject })}>{r.subject}</a></td>
                    <td><Badge value={r.phase} /></td><td>{r.eventType}</td><td title={time(r.created)}>{ago(r.created)}</td>
                  </tr>
                ))}</tbody>
              </table>
            </div>
          )}
          {page.items.length === 0 && !(page.archived || []).length && !query.workflow && !query.subject &&
            <p class="muted" id="history-hint">Finished runs leave the cluster once archived: filter by a workflow or a subject to see them from the run history.</p>}
          <div class="row">
            {stack.length > 0 && <button id="prev-page" onClick={() => { const s = [...stack]; const prev = s.pop(); setStack(s); go(href(ns, 'runs', { ...query, continue: prev })); }}>← Previous</button>}
            {page.continue && <button id="next-page" onClick={() => { setStack([...stack, cont]); go(href(ns, 'runs', { ...query, continue: page.continue })); }}>Next →</button>}
          </div>
        </div>
      )}
    </section>
  );
}

export function RunPage({ ns, name }) {
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let t;
    const load = () => api.get(nsPath(ns, `/runs/${encodeURIComponent(name)}`)).then((d) => {
      setRun(d); setError(null);
      if (!FINISHED.includes(d.status.phase)) t = setTimeout(load, 1000);
    }).catch((x) => { setError(x); t = setTimeout(load, 3000); });
    load();
    return () => clearTimeout(t);
  }, [ns, name]);
  const cancel = async () => {
    try { await api.post(nsPath(ns, `/runs/${encodeURIComponent(name)}/cancel`)); } catch (x) { setError(x); }
  };
  if (!run) return <div><ErrorBox error={error} /><p class="muted">Loading…</p></div>;
  const st = run.status || {};
  const ev = run.event || {};
  return (
    <section class="run">
      <div class="toolbar">
        <h1>Run {run.name}</h1>
        <Badge value={st.phase || 'Pending'} />
        <span class="spacer" />
        {!FINISHED.includes(st.phase) && <button id="cancel-run" onClick={cancel}>{run.cancel ? 'Cancelling…' : 'Cancel'}</button>}
      </div>
      <ErrorBox error={error} />
      <div class="card">
        {run.archived && <p class="muted" id="run-archived">This run has left the cluster; it is read from the run history.</p>}
        <p>Workflow <a href={href(ns, 'workflows', run.workflow)}>{run.workflow}</a> · subject <a href={href(ns, 'runs', { subject: run.subject })}>{run.subject}</a>{run.workflowRevision && <span> · revision <code>{run.workflowRevision}</code></span>}{run.dryRun && ' · test run'}</p>
        <p>Triggered by <b id="run-event-type">{ev.type || '—'}</b> id {ev.id} from {ev.source} at {time(ev.time || run.created)}</p>
        {st.result && <p>Result: {st.result} {st.message}</p>}
        {st.waitingFor && <p id="run-waiting" class="waiting">Waiting ({st.waitingFor.reason}): {st.waitingFor.message} · wakes {time(st.wakeAt)} ({ago(st.wakeAt)})</p>}
        {ev.data && <details><summary>Event data</summary><pre>{JSON.stringify(ev.data, null, 2)}</pre></details>}
      </div>
      <div class="card">
        <h3>Conditions</h3>
        {(st.conditionResults || []).length === 0 && <p class="muted">None evaluated.</p>}
        <ul>{(st.conditionResults || []).map((c) => <li class={c.result ? 'pass' : 'fail'}>{c.result ? 'PASS' : 'FAIL'} {c.name} <code>{c.expression}</code> <span class="muted">{c.message}</span></li>)}</ul>
      </div>
      <div class="card">
        <h3>Timeline</h3>
        <ol class="timeline" id="timeline">{(st.steps || []).map((s) => (
          <li class={'t-step p-' + String(s.phase).toLowerCase()} data-name={s.name}>
            <div><b>{s.name}</b> <Badge value={s.phase} /> <span class="muted">{time(s.startTime)} → {time(s.finishTime)}</span>{s.attempts > 0 && <span> · attempts {s.attempts}</span>}</div>
            {s.message && <div class="step-message">{s.message}</div>}
            {s.idempotencyKey && <div class="muted small">idempotency key <code>{s.idempotencyKey}</code></div>}
            {s.nextAttemptTime && <div class="small">next attempt {time(s.nextAttemptTime)}</div>}
            {s.output && <details><summary>Output</summary><pre>{JSON.stringify(s.output, null, 2)}</pre></details>}
          </li>
        ))}</ol>
      </div>
    </section>
  );
}
