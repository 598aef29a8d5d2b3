import { useEffect, useState } from 'preact/hooks';
import { api, nsPath } from './api.js';
import { href, go } from './router.js';
import { ago, Badge, ErrorBox } from './util.jsx';

function NamespacePicker({ ns }) {
  const [list, setList] = useState(null);
  const [typed, setTyped] = useState(ns);
  useEffect(() => { api.get('/api/namespaces').then(setList).catch(() => setList({ canList: false, namespaces: [] })); }, []);
  if (list && list.canList) {
    return (
      <label>Namespace{' '}
        <select id="namespace" value={ns} onChange={(e) => go(href(e.target.value, 'workflows'))}>
          <option value={ALL}>(all namespaces)</option>
          {ns !== ALL && !list.namespaces.includes(ns) && <option value={ns}>{ns}</option>}
          {list.namespaces.map((n) => <option value={n}>{n}</option>)}
        </select>
      </label>
    );
  }
  return (
    <form onSubmit={(e) => { e.preventDefault(); go(href(typed, 'workflows')); }}>
      <label>Namespace <input id="namespace" value={typed} onInput={(e) => setTyped(e.target.value)} /></label>
      <button type="submit">Open</button>
    </form>
  );
}

// ALL in the namespace part of the URL lists every namespace the person may list.
export const ALL = '_all';

export function WorkflowsPage({ ns }) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const load = () => api.get(ns === ALL ? '/api/workflows' : nsPath(ns, '/workflows')).then((d) => { setRows(d.items); setError(null); }).catch(setError);
  useEffect(() => {
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [ns]);
  const setState = async (wns, name, state) => {
    try { await api.post(nsPath(wns, `/workflows/${encodeURIComponent(name)}/state`), { state }); load(); } catch (x) { setError(x); }
  };
  return (
    <section>
      <div class="toolbar">
        <h1>Workflows</h1>
        <NamespacePicker ns={ns} />
      </div>
      <ErrorBox error={error} />
      {rows && rows.length === 0 && <p class="muted" id="no-workflows">No workflows in {ns === ALL ? 'any namespace you may list' : ns} yet. {ns !== ALL && <a href={href(ns, 'new')}>Create one</a>}.</p>}
      {rows && rows.length > 0 && (
        <table id="workflows">
          <thead><tr>{ns === ALL && <th>Namespace</th>}<th>Name</th><th>State</th><th>Trigger</th><th>Ready</th><th>Runs (active / ok / failed)</th><th>Skipped</th><th>Last triggered</th><th></th></tr></thead>
          <tbody>
            {rows.map((w) => (
              <tr data-name={w.name} data-namespace={w.namespace}>
                {ns === ALL && <td>{w.namespace}</td>}
                <td><a href={href(w.namespace, 'workflows', w.name)}>{w.name}</a><div class="muted small">{w.description}</div></td>
                <td><Badge value={w.state} /></td>
                <td class="small">{w.trigger}</td>
                <td><Badge value={w.ready === 'True' ? 'Ready' : w.ready === 'False' ? 'NotReady' : 'Unknown'} />
                  {w.readyMessage && <div class="error small ready-message">{w.readyMessage}</div>}</td>
                <td class="runs-count">{w.runs.active} / {w.runs.succeeded} / {w.runs.failed}</td>
                <td class="small">{(w.skipped || []).map((s) => <div>{s.reason}: {s.count}</div>)}</td>
                <td class="small">{ago(w.lastTriggeredTime)}</td>
                <td class="actions">
                  {w.state !== 'Active' && <button class="activate" onClick={() => setState(w.namespace, w.name, 'Active')}>Activate</button>}
                  {w.state === 'Active' && <button class="pause" onClick={() => setState(w.namespace, w.name, 'Paused')}>Pause</button>}
                  {w.state !== 'Draft' && <button class="draft" onClick={() => setState(w.namespace, w.name, 'Draft')}>Draft</button>}
                  <a class="button" href={href(w.namespace, 'runs', { workflow: w.name })}>Runs</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
