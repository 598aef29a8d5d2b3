import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { useRoute, href, go } from './router.js';
import { WorkflowsPage, ALL } from './workflows.jsx';
import { Builder } from './builder.jsx';
import { RunsPage, RunPage } from './runs.jsx';
import './style.css';

function Login({ onDone }) {
  const [token, setToken] = useState('');
  const [err, setErr] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    try { await api.post('/api/login', { token }); onDone(); } catch (x) { setErr(x.message); }
  };
  return (
    <form class="login card" onSubmit={submit}>
      <h2>Sign in</h2>
      <p>This console acts with your own Kubernetes identity. Paste a bearer token
        (for example <code>kubectl create token &lt;service-account&gt;</code>).</p>
      <input id="login-token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.target.value)} />
      <button id="login-submit" type="submit">Sign in</button>
      {err && <p class="error">{err}</p>}
    </form>
  );
}

function Header({ ns: shown, session, page }) {
  const ns = shown === ALL ? session.defaultNamespace : shown;
  return (
    <header>
      <a class="brand" href={href(shown, 'workflows')}>crmflow</a>
      <nav>
        <a class={page === 'workflows' ? 'active' : ''} href={href(shown, 'workflows')}>Workflows</a>
        <a class={page === 'runs' ? 'active' : ''} href={href(ns, 'runs')}>Runs</a>
        <a id="new-workflow" class="button" href={href(ns, 'new')}>+ New Workflow</a>
      </nav>
      <span class="who">{session.mode === 'local' ? 'kubeconfig identity' : 'signed in'}</span>
      {session.mode !== 'local' && <button id="sign-out" onClick={() => api.post('/api/logout').then(() => dispatchEvent(new Event('crmflow-signin')))}>Sign out</button>}
    </header>
  );
}

function App() {
  const [session, setSession] = useState(null);
  const [err, setErr] = useState('');
  const route = useRoute();
  const load = () => api.session().then(setSession).catch((x) => setErr(x.message));
  useEffect(() => {
    load();
    addEventListener('crmflow-signin', load);
    return () => removeEventListener('crmflow-signin', load);
  }, []);
  if (err) return <p class="error">{err}</p>;
  if (!session) return <p class="muted">Loading…</p>;
  if (!session.signedIn) return <Login onDone={load} />;
  const [first, ns, page, name] = route.parts;
  if (first !== 'ns' || !ns || (ns === ALL && (page !== 'workflows' || name))) {
    go(href(session.defaultNamespace, 'workflows'));
    return null;
  }
  let body;
  switch (page) {
    case 'new': body = <Builder key={'new-' + ns} ns={ns} />; break;
    case 'workflows': body = name ? <Builder key={ns + '/' + name} ns={ns} name={name} tab={route.query.tab} saved={route.query.saved} /> : <WorkflowsPage ns={ns} />; break;
    case 'runs': body = name ? <RunPage key={name} ns={ns} name={name} /> : <RunsPage ns={ns} query={route.query} />; break;
    default: body = <WorkflowsPage ns={ns} />;
  }
  return (
    <div>
      <Header ns={ns} session={session} page={page} />
      <main>{body}</main>
    </div>
  );
}

render(<App />, document.getElementById('app'));
