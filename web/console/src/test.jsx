import { useEffect, useState } from 'preact/hooks';
import { api, nsPath } from './api.js';
import { ErrorBox, Badge } from './util.jsx';
import { indentJSON, prune } from './model.js';

function triggerType(wf) {
  const t = wf.spec.trigger || {};
  return ((t.event || t.dateField || {}).types || [])[0] || 'io.crmflow.schedule.tick';
}

function firstWaitType(wf) {
  const s = (wf.spec.steps || []).find((x) => x.waitForEvent);
  return s ? (s.waitForEvent.types || [])[0] || 'message.received' : 'message.received';
}

// Rendered shows what a step would have sent, from its dry-run output.
function Rendered({ output }) {
  if (!output) return null;
  const o = output;
  if (o.email) return <div class="rendered email"><div>To: {o.email.to}</div><div>Subject: <b>{o.email.subject}</b></div><pre>{o.email.body}</pre></div>;
  if (o.notify) return <div class="rendered notify"><div>Channel: {o.notify.channel || '(hook)'}</div><pre>{o.notify.text}</pre></div>;
  if (o.sms) return <div class="rendered sms"><div>To: {o.sms.to}</div><pre>{o.sms.body}</pre></div>;
  if (o.command) return <div class="rendered command"><div>{o.command.type} for {o.command.subject}</div><pre>{JSON.stringify(o.command.data, null, 2)}</pre></div>;
  if (o.http) return <div class="rendered http"><div>{o.http.method} {o.http.url}</div><pre>{o.http.body}</pre></div>;
  return <pre class="rendered">{JSON.stringify(o, null, 2)}</pre>;
}

export function TestPanel({ ns, wf }) {
  const type = triggerType(wf);
  const [samples, setSamples] = useState(null);
  const [subject, setSubject] = useState('c-42');
  const [data, setData] = useState('');
  const [replies, setReplies] = useState([]);
  const [plan, setPlan] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.get(nsPath(ns, `/samples?type=${encodeURIComponent(type)}`)).then((s) => {
      setSamples(s);
      setData(indentJSON(s.example));
    }).catch(setError);
  }, [type]);
  const pick = (v) => {
    if (v === 'example') { setData(indentJSON(samples.example)); return; }
    const r = samples.recent.find((x) => x.run === v);
    if (r) { setSubject(r.subject); setData(indentJSON(r.data)); }
  };
  const run = async () => {
    setError(null); setPlan(null);
    try {
      setPlan(await api.post(nsPath(ns, '/plan'), {
        spec: prune(wf).spec, event: { type, subject, data },
        replies: replies.map((r) => ({ type: r.type, data: r.data })),
      }));
    } catch (x) { setError(x); }
  };
  return (
    <div class="test">
      <div class="card">
        <h3>Sample contact</h3>
        <label>Sample{' '}
          <select id="test-sample" onChange={(e) => pick(e.target.value)}>
            <option value="example">Catalogue example for {type}</option>
            {(samples?.recent || []).map((r) => <option value={r.run}>{r.subject} — last {r.eventType} (run {r.run})</option>)}
          </select>
        </label>
        <label>Subject <input id="test-subject" value={subject} onInput={(e) => setSubject(e.target.value)} /></label>
        <label>Event data (JSON; event type {type})
          <textarea id="test-data" rows={12} spellcheck={false} value={data} onInput={(e) => setData(e.target.value)} />
        </label>
        <h4>Simulated replies (answer waitForEvent steps in order)</h4>
        {replies.map((r, i) => (
          <div class="reply" data-index={i}>
            <input class="reply-type" value={r.type} onInput={(e) => setReplies(replies.map((x, j) => j === i ? { ...x, type: e.target.value } : x))} />
            <textarea class="reply-data" rows={3} value={r.data} onInput={(e) => setReplies(replies.map((x, j) => j === i ? { ...x, data: e.target.value } : x))} />
            <button class="reply-remove icon" onClick={() => setReplies(replies.filter((_, j) => j !== i))}>✕</button>
          </div>
        ))}
        <button id="add-reply" onClick={() => setReplies([...replies, { type: firstWaitType(wf), data: '{"message": {"text": "Yes, tell me more"}}' }])}>+ Simulated reply</button>
        <div class="row"><button id="run-test" class="primary" disabled={!samples} onClick={run}>Run test (nothing is sent)</button></div>
        <ErrorBox error={error} />
      </div>
      {plan && (
        <div class="card" id="plan">
          <h3>Plan</h3>
          {!plan.triggers && <p class="error" id="plan-reason">{plan.reason}</p>}
          {plan.triggers && (
            <div>
              <p>Subject: <b id="plan-subject">{plan.subject}</b> · Outcome: <Badge value={plan.phase} /> {plan.result} {plan.message}</p>
              {plan.reason && <p class="error">{plan.reason}</p>}
              <h4>Conditions</h4>
              {plan.conditions.length === 0 && <p class="muted">None.</p>}
              <table class="plan-conditions">
                <tbody>{plan.conditions.map((c) => (
                  <tr class={c.result ? 'pass' : 'fail'}>
                    <td>{c.result ? 'PASS' : 'FAIL'}</td><td>{c.name}</td><td><code>{c.expression}</code></td>
                    <td>{c.hasActual ? <span>{c.field} = <code>{JSON.stringify(c.actual)}</code></span> : c.field ? `${c.field} is missing` : ''}</td>
                    <td class="muted">{c.message}</td>
                  </tr>
                ))}</tbody>
              </table>
              <h4>Steps</h4>
              <ol class="plan-steps">{plan.steps.map((s) => (
                <li class={'plan-step p-' + s.phase.toLowerCase()} data-name={s.name}>
                  <b>{s.name}</b> <Badge value={s.phase} /> <span class="step-message">{s.message}</span>
                  <Rendered output={s.output} />
                </li>
              ))}</ol>
            </div>
          )}
        </div>
      )}
    </div>
  );
}
