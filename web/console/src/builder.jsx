import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, nsPath } from './api.js';
import { href, go } from './router.js';
import { ErrorBox } from './util.jsx';
import { newWorkflow, prune, stepKind, toText, fromText, parseValue, showValue, fieldPaths, errorsAt } from './model.js';
import { TestPanel } from './test.jsx';

// FieldErr shows the problems of one field, right under it.
function FieldErr({ errors, path, exact }) {
  const mine = exact ? (errors || []).filter((e) => e.field === path) : errorsAt(errors, path);
  if (!mine.length) return null;
  return <div class="field-error" data-for={path}>{mine.map((e) => <div>{e.message}</div>)}</div>;
}

function useCatalogue() {
  const [cat, setCat] = useState(null);
  useEffect(() => { api.get('/api/catalogue').then(setCat); }, []);
  return cat;
}

const GROUPS_EVENTS = ['Contact', 'Conversation', 'CRM'];

function EventTypeSelect({ id, value, onChange, cat }) {
  const known = cat.events.some((e) => e.type === value);
  return (
    <span>
      <select id={id} value={known ? value : '__custom'} onChange={(e) => onChange(e.target.value === '__custom' ? '' : e.target.value)}>
        {GROUPS_EVENTS.map((g) => (
          <optgroup label={g}>{cat.events.filter((e) => e.group === g).map((e) => <option value={e.type}>{e.type} — {e.description}</option>)}</optgroup>
        ))}
        <option value="__custom">Custom type…</option>
      </select>
      {!known && <input id={id + '-custom'} placeholder="custom.event.type" value={value} onInput={(e) => onChange(e.target.value)} />}
    </span>
  );
}

function TriggerEditor({ wf, update, cat, errors }) {
  const t = wf.spec.trigger || {};
  const kind = t.schedule ? 'schedule' : t.dateField ? 'dateField' : 'event';
  const setKind = (k) => update((w) => {
    w.spec.trigger = k === 'schedule' ? { schedule: { cron: '0 9 * * 1', timeZone: 'UTC' } }
      : k === 'dateField' ? { dateField: { types: ['contact.updated'], field: 'contact.renewalDate', offset: '-168h' } }
        : { event: { types: ['contact.created'] } };
  });
  return (
    <fieldset class="card" id="trigger">
      <legend>Trigger</legend>
      <label>Kind{' '}
        <select id="trigger-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="event">Event</option>
          <option value="schedule">Time: schedule (cron)</option>
          <option value="dateField">Time: date field</option>
        </select>
      </label>
      {kind === 'event' && (
        <div class="row">
          <label>Event type <EventTypeSelect id="trigger-type" cat={cat} value={(t.event.types || [])[0] || ''}
            onChange={(v) => update((w) => { w.spec.trigger.event.types = [v]; })} /></label>
          <label>Delay after event <input id="trigger-delay" placeholder="e.g. 1h" value={t.event.delay || ''}
            onInput={(e) => update((w) => { w.spec.trigger.event.delay = e.target.value; })} /></label>
          <label>Source <input id="trigger-source" placeholder="any" value={t.event.source || ''}
            onInput={(e) => update((w) => { w.spec.trigger.event.source = e.target.value; })} /></label>
          <FieldErr errors={errors} path="spec.trigger.event" />
        </div>
      )}
      {kind === 'schedule' && (
        <div class="row">
          <label>Cron <input id="trigger-cron" value={t.schedule.cron || ''} onInput={(e) => update((w) => { w.spec.trigger.schedule.cron = e.target.value; })} /></label>
          <label>Time zone <input id="trigger-tz" value={t.schedule.timeZone || ''} onInput={(e) => update((w) => { w.spec.trigger.schedule.timeZone = e.target.value; })} /></label>
          <label>Subject <input id="trigger-schedule-subject" value={t.schedule.subject || ''} onInput={(e) => update((w) => { w.spec.trigger.schedule.subject = e.target.value; })} /></label>
          <FieldErr errors={errors} path="spec.trigger.schedule" />
        </div>
      )}
      {kind === 'dateField' && (
        <div class="row">
          <label>From events <EventTypeSelect id="trigger-date-type" cat={cat} value={(t.dateField.types || [])[0] || ''}
            onChange={(v) => update((w) => { w.spec.trigger.dateField.types = [v]; })} /></label>
          <label>Date field (CEL) <input id="trigger-datefield" value={t.dateField.field || ''} onInput={(e) => update((w) => { w.spec.trigger.dateField.field = e.target.value; })} /></label>
          <label>Offset <input id="trigger-offset" value={t.dateField.offset || ''} onInput={(e) => update((w) => { w.spec.trigger.dateField.offset = e.target.value; })} /></label>
          <FieldErr errors={errors} path="spec.trigger.dateField" />
        </div>
      )}
      <FieldErr errors={errors} path="spec.trigger" exact />
      <label>Subject (CEL: whom a run is about; default the event's subject){' '}
        <input id="wf-subject" placeholder="e.g. conversation.contactId" value={wf.spec.subject || ''} list="field-suggestions"
          onInput={(e) => update((w) => { w.spec.subject = e.target.value; })} />
      </label>
      <FieldErr errors={errors} path="spec.subject" />
    </fieldset>
  );
}

function ConditionsEditor({ wf, update, cat, errors }) {
  const conds = wf.spec.conditions || [];
  const set = (i, fn) => update((w) => { fn(w.spec.conditions[i]); });
  const add = (c) => update((w) => { (w.spec.conditions = w.spec.conditions || []).push(c); });
  return (
    <fieldset class="card" id="conditions">
      <legend>Conditions (all must hold)</legend>
      {conds.length === 0 && <p class="muted">No conditions: every matching event enrolls.</p>}
      {conds.map((c, i) => {
        const mode = c.businessHours ? 'hours' : c.field !== undefined ? 'field' : 'cel';
        const path = `spec.conditions[${i}]`;
        return (
          <div class="condition" data-index={i}>
            <input class="cond-name" placeholder="name (optional)" value={c.name || ''} onInput={(e) => set(i, (x) => { x.name = e.target.value; })} />
            {mode === 'field' && (
              <span>
                <input class="cond-field" placeholder="contact.tags" list="field-suggestions" value={c.field}
                  onInput={(e) => set(i, (x) => { x.field = e.target.value; })} />
                <select class="cond-operator" value={c.operator || 'Equals'} onChange={(e) => set(i, (x) => { x.operator = e.target.value; x.value = parseValue(showValue(x.value), x.operator); })}>
                  {cat.operators.map((o) => <option value={o}>{o}</option>)}
                </select>
                {c.operator !== 'Exists' && c.operator !== 'NotExists' && (
                  <input class="cond-value" placeholder="value" value={showValue(c.value)}
                    onInput={(e) => set(i, (x) => { x.value = parseValue(e.target.value, x.operator); })} />
                )}
              </span>
            )}
            {mode === 'cel' && (
              <input class="cond-expression wide" placeholder='!("unsubscribed" in contact.tags)' value={c.expression || ''}
                onInput={(e) => set(i, (x) => { x.expression = e.target.value; })} />
            )}
            {mode === 'hours' && (
              <span>
                <input class="cond-tz" placeholder="time zone" value={c.businessHours.timeZone || ''} onInput={(e) => set(i, (x) => { x.businessHours.timeZone = e.target.value; })} />
                <input class="cond-days" placeholder="Mon,Tue,Wed,Thu,Fri" value={(c.businessHours.days || []).join(',')}
                  onInput={(e) => set(i, (x) => { x.businessHours.days = e.target.value.split(',').map((s) => s.trim()).filter(Boolean); })} />
                <input class="cond-from short" placeholder="09:00" value={c.businessHours.from || ''} onInput={(e) => set(i, (x) => { x.businessHours.from = e.target.value; })} />
                <input class="cond-to short" placeholder="17:00" value={c.businessHours.to || ''} onInput={(e) => set(i, (x) => { x.businessHours.to = e.target.value; })} />
              </span>
            )}
            <button class="cond-remove icon" title="Remove" onClick={() => update((w) => { w.spec.conditions.splice(i, 1); })}>✕</button>
            <FieldErr errors={errors} path={path} />
          </div>
        );
      })}
      <div class="row">
        <button id="add-condition" onClick={() => add({ field: '', operator: 'Equals' })}>+ Field condition</button>
        <button id="add-cel-condition" onClick={() => add({ expression: '' })}>+ CEL condition</button>
        <button id="add-business-hours" onClick={() => add({ businessHours: { timeZone: 'UTC', days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'], from: '09:00', to: '17:00' } })}>+ Business hours</button>
      </div>
      <FieldErr errors={errors} path="spec.conditions" exact />
    </fieldset>
  );
}

// StructuredText edits a list or map as lines. It keeps what the person
// typed (a half-written "key:" line) and follows the value only when it
// changes from elsewhere (YAML view, reorder).
function StructuredText({ kind, value, onChange, cls, rows }) {
  const [text, setText] = useState(toText(kind, value));
  useEffect(() => {
    if (JSON.stringify(fromText(kind, text)) !== JSON.stringify(fromText(kind, toText(kind, value)))) setText(toText(kind, value));
  }, [JSON.stringify(value)]);
  return <textarea class={cls} rows={rows} value={text} onInput={(e) => { setText(e.target.value); onChange(fromText(kind, e.target.value)); }} />;
}

function ActionField({ f, value, onChange, secrets, stepNames, cls }) {
  switch (f.kind) {
    case 'textarea':
      return <textarea class={cls} rows={4} value={value || ''} onInput={(e) => onChange(e.target.value)} />;
    case 'list': case 'map': case 'eventTypes':
      return <StructuredText kind={f.kind} cls={cls} rows={2} value={value} onChange={onChange} />;
    case 'select':
      return <select class={cls} value={value || ''} onChange={(e) => onChange(e.target.value)}>{f.options.map((o) => <option value={o}>{o || '(default)'}</option>)}</select>;
    case 'step':
      return (
        <select class={cls} value={value || ''} onChange={(e) => onChange(e.target.value)}>
          <option value="">(none)</option>{stepNames.map((n) => <option value={n}>{n}</option>)}
        </select>
      );
    case 'secretKey': {
      const v = value || {};
      return (
        <span class={cls}>
          <input class="secret-name" placeholder="Secret name" list="secret-names" value={v.name || ''}
            onInput={(e) => onChange(e.target.value || v.key ? { ...v, name: e.target.value } : undefined)} />
          <input class="secret-key" placeholder="key" value={v.key || ''} onInput={(e) => onChange({ ...v, key: e.target.value })} />
        </span>
      );
    }
    default:
      return <input class={cls} value={value || ''} onInput={(e) => onChange(e.target.value)} />;
  }
}

function Palette({ cat, onPick, onClose }) {
  const groups = ['Contact', 'Communication', 'CRM', 'Integration', 'Flow'];
  return (
    <div class="palette card">
      {groups.map((g) => (
        <div class="palette-group"><strong>{g}</strong>
          {cat.actions.filter((a) => a.group === g).map((a) => (
            <button class="palette-item" data-kind={a.kind} onClick={() => onPick(a.kind)}>{a.label}</button>
          ))}
        </div>
      ))}
      <button class="palette-close" onClick={onClose}>Cancel</button>
    </div>
  );
}

function StepCard({ step, i, n, cat, update, errors, secrets, stepNames }) {
  const kind = stepKind(step);
  const def = cat.actions.find((a) => a.kind === kind);
  const path = `spec.steps[${i}]`;
  const set = (fn) => update((w) => { fn(w.spec.steps[i]); });
  const move = (d) => update((w) => { const s = w.spec.steps; [s[i], s[i + d]] = [s[i + d], s[i]]; });
  return (
    <div class={'step card kind-' + kind} data-index={i} data-name={step.name}>
      <div class="step-head">
        <span class="step-no">{i + 1}</span>
        <span class="step-kind">{def ? def.label : kind}</span>
        <input class="step-name" placeholder="step name" value={step.name} onInput={(e) => set((s) => { s.name = e.target.value; })} />
        <span class="spacer" />
        <button class="step-up icon" title="Move up" disabled={i === 0} onClick={() => move(-1)}>↑</button>
        <button class="step-down icon" title="Move down" disabled={i === n - 1} onClick={() => move(1)}>↓</button>
        <button class="step-delete icon" title="Delete" onClick={() => update((w) => { w.spec.steps.splice(i, 1); })}>✕</button>
      </div>
      <FieldErr errors={errors} path={`${path}.name`} />
      <label class="guard">Only if (CEL, optional) <input class="step-if" value={step.if || ''} placeholder='e.g. !steps["await-reply"].received'
        onInput={(e) => set((s) => { s.if = e.target.value; })} /></label>
      <FieldErr errors={errors} path={`${path}.if`} />
      {def && def.fields.map((f) => (
        <label class="action-field">{f.label}{f.required ? ' *' : ''}
          <ActionField f={f} cls={'f-' + f.name} value={step[kind][f.name]} secrets={secrets} stepNames={stepNames}
            onChange={(v) => set((s) => { s[kind][f.name] = v; })} />
          <FieldErr errors={errors} path={`${path}.${kind}.${f.name}`} />
        </label>
      ))}
      {kind === 'branch' && (
        <div class="branch-graph" aria-label="branch">
          <span>if {step.branch.if || '…'}</span>
          <span class="edge">then → <b>{step.branch.then || '?'}</b></span>
          <span class="edge">else → <b>{step.branch.else || 'next step'}</b></span>
        </div>
      )}
      <FieldErr errors={errors.filter((e) => e.field === path || e.field === `${path}.${kind}`)} path={path} exact />
    </div>
  );
}

// FlowGraph draws the steps in order with each branch's jumps as edges
// (SVG: no inline style, so the Content-Security-Policy holds).
function FlowGraph({ steps, cat }) {
  if (!steps.some((s) => s.branch)) return null;
  const H = 40, W = 250, top = 8;
  const index = Object.fromEntries(steps.map((s, i) => [s.name, i]));
  const edges = [];
  steps.forEach((s, i) => {
    if (!s.branch) return;
    for (const [label, target] of [['then', s.branch.then], ['else', s.branch.else]]) {
      if (target && index[target] !== undefined) edges.push({ from: i, to: index[target], label });
    }
  });
  const height = top * 2 + steps.length * H;
  const width = W + 60 + edges.length * 28 + 40;
  const y = (i) => top + i * H + 14;
  return (
    <svg id="flow-graph" class="flow" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="flow of the steps">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="flow-arrowhead" />
        </marker>
      </defs>
      {steps.map((s, i) => i < steps.length - 1 && !s.end && (
        <line class="flow-next" x1={20 + W / 2} y1={y(i) + 14} x2={20 + W / 2} y2={y(i + 1) - 14} marker-end="url(#arrow)" />
      ))}
      {edges.map((e, k) => {
        const bulge = W + 20 + 28 * (k + 1) + 20;
        return (
          <g class={'flow-edge flow-' + e.label} data-from={steps[e.from].name} data-to={steps[e.to].name}>
            <path d={`M ${20 + W} ${y(e.from)} C ${bulge} ${y(e.from)}, ${bulge} ${y(e.to)}, ${20 + W} ${y(e.to)}`} marker-end="url(#arrow)" />
            <text x={bulge - 10} y={(y(e.from) + y(e.to)) / 2}>{e.label}</text>
          </g>
        );
      })}
      {steps.map((s, i) => {
        const kind = stepKind(s);
        const def = cat.actions.find((a) => a.kind === kind);
        return (
          <g class={'flow-node kind-' + kind} data-name={s.name}>
            <rect x="20" y={y(i) - 14} width={W} height="28" rx="6" />
            <text x="30" y={y(i) + 4}>{i + 1}. {s.name} · {def ? def.label : kind}{s.if ? ' (if …)' : ''}</text>
          </g>
        );
      })}
    </svg>
  );
}

function StepsEditor({ wf, update, cat, errors, secrets }) {
  const steps = wf.spec.steps || [];
  const [paletteAt, setPaletteAt] = useState(-1);
  const names = steps.map((s) => s.name).filter(Boolean);
  const insert = (at, kind) => {
    update((w) => {
      let n = 1;
      while (w.spec.steps.some((s) => s.name === `${kind.toLowerCase()}-${n}`)) n++;
      const step = { name: `${kind.toLowerCase()}-${n}`, [kind]: kind === 'waitForEvent' ? { types: ['message.received'], timeout: '48h' } : kind === 'wait' ? { duration: '1h' } : {} };
      w.spec.steps.splice(at, 0, step);
    });
    setPaletteAt(-1);
  };
  const plus = (at) => (
    <div class="plus">
      {paletteAt === at ? <Palette cat={cat} onPick={(k) => insert(at, k)} onClose={() => setPaletteAt(-1)} />
        : <button class="add-step" data-at={at} title="Add a step here" onClick={() => setPaletteAt(at)}>+</button>}
    </div>
  );
  return (
    <fieldset class="card" id="steps">
      <legend>Steps</legend>
      <FlowGraph steps={steps} cat={cat} />
      {plus(0)}
      {steps.map((s, i) => (
        <div>
          <StepCard step={s} i={i} n={steps.length} cat={cat} update={update} errors={errors} secrets={secrets} stepNames={names} />
          {plus(i + 1)}
        </div>
      ))}
      <FieldErr errors={errors} path="spec.steps" exact />
    </fieldset>
  );
}

function YamlView({ wf, setWf }) {
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [applied, setApplied] = useState(false);
  useEffect(() => { api.post('/api/yaml/render', { workflow: prune(wf) }).then((d) => setText(d.yaml)).catch(setError); }, []);
  const apply = async () => {
    try {
      const d = await api.post('/api/yaml/parse', { yaml: text });
      d.workflow.metadata.resourceVersion = wf.metadata.resourceVersion;
      d.workflow.metadata.namespace = wf.metadata.namespace;
      d.workflow.spec.conditions = d.workflow.spec.conditions || [];
      d.workflow.spec.steps = d.workflow.spec.steps || [];
      setWf(d.workflow); setError(null); setApplied(true);
    } catch (x) { setError(x); setApplied(false); }
  };
  return (
    <div class="card">
      <p class="muted">The same Workflow as YAML: edit here and apply, or edit the form and come back.</p>
      <textarea id="yaml" rows={28} spellcheck={false} value={text} onInput={(e) => { setText(e.target.value); setApplied(false); }} />
      <div class="row"><button id="yaml-apply" onClick={apply}>Apply YAML to the form</button>{applied && <span class="ok">Applied.</span>}</div>
      <ErrorBox error={error} />
    </div>
  );
}

export function Builder({ ns, name, tab: initialTab, saved: savedState }) {
  const cat = useCatalogue();
  const [wf, setWf] = useState(name ? null : newWorkflow(ns));
  const [loadError, setLoadError] = useState(null);
  const [check, setCheck] = useState({ state: 'idle', errors: [] });
  const [saveError, setSaveError] = useState(null);
  const [saved, setSaved] = useState(savedState === 'Active' ? 'Saved and activated.' : savedState === 'Draft' ? 'Saved as Draft.' : '');
  const [tab, setTab] = useState(initialTab || 'build');
  const [secrets, setSecrets] = useState([]);
  const seq = useRef(0);

  useEffect(() => {
    if (name) api.get(nsPath(ns, `/workflows/${encodeURIComponent(name)}`)).then((d) => {
      d.workflow.spec.conditions = d.workflow.spec.conditions || [];
      d.workflow.spec.steps = d.workflow.spec.steps || [];
      setWf(d.workflow);
    }).catch(setLoadError);
    api.get(nsPath(ns, '/secrets')).then((d) => setSecrets(d.names)).catch(() => {});
  }, [ns, name]);

  // Every change is validated by the API server (dry run) after a short pause.
  useEffect(() => {
    if (!wf) return;
    const my = ++seq.current;
    setCheck((c) => ({ ...c, state: 'checking' }));
    const t = setTimeout(async () => {
      try {
        await api.post(nsPath(ns, '/workflows'), { workflow: prune(wf), dryRun: true });
        if (my === seq.current) setCheck({ state: 'valid', errors: [] });
      } catch (x) {
        if (my === seq.current) setCheck({ state: 'invalid', errors: x.fields && x.fields.length ? x.fields : [{ field: '', message: x.message }], message: x.message });
      }
    }, 400);
    return () => clearTimeout(t);
  }, [wf]);

  const update = (fn) => { setSaved(''); setWf((w) => { const c = structuredClone(w); fn(c); return c; }); };

  const suggestions = useMemo(() => {
    if (!cat || !wf) return [];
    const t = wf.spec.trigger || {};
    const type = ((t.event || t.dateField || {}).types || [])[0];
    const ev = cat.events.find((e) => e.type === type);
    return ev ? fieldPaths(ev.example) : [];
  }, [cat, wf && wf.spec.trigger]);

  const save = async (state) => {
    setSaveError(null);
    try {
      const body = prune(wf);
      body.spec.state = state;
      const d = await api.post(nsPath(ns, '/workflows'), { workflow: body, dryRun: false });
      setSaved(state === 'Active' ? 'Saved and activated.' : state === 'Paused' ? 'Saved (paused).' : 'Saved as Draft.');
      d.workflow.spec.conditions = d.workflow.spec.conditions || [];
      d.workflow.spec.steps = d.workflow.spec.steps || [];
      setWf(d.workflow);
      if (!name) go(href(ns, 'workflows', d.workflow.metadata.name, { saved: state }));
    } catch (x) { setSaveError(x); }
  };

  if (loadError) return <ErrorBox error={loadError} />;
  if (!cat || !wf) return <p class="muted">Loading…</p>;
  const errors = check.errors || [];
  return (
    <section class="builder">
      <div class="toolbar">
        <h1>{name ? `Workflow ${name}` : 'New workflow'}</h1>
        <span class="state-now">state: {wf.spec.state || 'Draft'}</span>
        <span class="spacer" />
        {name && <button id="save" onClick={() => save(wf.spec.state || 'Draft')}>Save</button>}
        <button id="save-draft" onClick={() => save('Draft')}>Save as Draft</button>
        <button id="activate" class="primary" onClick={() => save('Active')}>Activate</button>
        {name && <a id="export" class="button" href={nsPath(ns, `/workflows/${encodeURIComponent(name)}/export`)} download>Export YAML</a>}
        {name && <a class="button" href={href(ns, 'runs', { workflow: name })}>Runs</a>}
      </div>
      <div id="validation" class={'validation v-' + check.state}>
        {check.state === 'checking' && 'Checking with the API server…'}
        {check.state === 'valid' && 'Valid: the API server accepts this workflow (dry run).'}
        {check.state === 'invalid' && `${errors.length} problem${errors.length === 1 ? '' : 's'} (the checks the API server runs):`}
        {check.state === 'invalid' && <ul>{errors.map((e) => <li><code>{e.field}</code> {e.message}</li>)}</ul>}
      </div>
      {saved && <p class="ok" id="saved">{saved}</p>}
      <ErrorBox error={saveError} />
      <div class="tabs">
        <button id="tab-build" class={tab === 'build' ? 'active' : ''} onClick={() => setTab('build')}>Build</button>
        <button id="tab-yaml" class={tab === 'yaml' ? 'active' : ''} onClick={() => setTab('yaml')}>YAML</button>
        <button id="tab-test" class={tab === 'test' ? 'active' : ''} onClick={() => setTab('test')}>Test</button>
      </div>
      <datalist id="field-suggestions">{suggestions.map((p) => <option value={p} />)}</datalist>
      <datalist id="secret-names">{secrets.map((p) => <option value={p} />)}</datalist>
      {tab === 'build' && (
        <div>
          <fieldset class="card">
            <legend>Workflow</legend>
            <label>Name <input id="wf-name" value={wf.metadata.name} disabled={!!name}
              onInput={(e) => update((w) => { w.metadata.name = e.target.value; })} /></label>
            <FieldErr errors={errors} path="metadata.name" />
            <label>Description <input id="wf-description" class="wide" value={wf.spec.description || ''}
              onInput={(e) => update((w) => { w.spec.description = e.target.value; })} /></label>
            <label>Re-enroll a contact{' '}
              <select id="wf-reenroll" value={wf.spec.enrollment?.reenroll || ''} onChange={(e) => update((w) => { w.spec.enrollment = { ...(w.spec.enrollment || {}), reenroll: e.target.value }; })}>
                <option value="">(default)</option><option value="Never">Never</option><option value="AfterExit">After the run ends</option><option value="Always">Always</option>
              </select></label>
            <label>Concurrent runs per contact{' '}
              <select id="wf-concurrency" value={wf.spec.enrollment?.concurrency || ''} onChange={(e) => update((w) => { w.spec.enrollment = { ...(w.spec.enrollment || {}), concurrency: e.target.value }; })}>
                <option value="">(default)</option><option value="Allow">Allow</option><option value="Forbid">Forbid</option><option value="Replace">Replace</option>
              </select></label>
            <FieldErr errors={errors} path="spec.enrollment" />
            <p class="muted small">Exit goals, retries and history limits: edit them in the YAML tab.</p>
          </fieldset>
          <TriggerEditor wf={wf} update={update} cat={cat} errors={errors} />
          <ConditionsEditor wf={wf} update={update} cat={cat} errors={errors} />
          <StepsEditor wf={wf} update={update} cat={cat} errors={errors} secrets={secrets} />
          <fieldset class="card">
            <legend>Connections</legend>
            <label>Notify webhook URL Secret{' '}
              <input id="conn-notify-secret" list="secret-names" placeholder="Secret name" value={wf.spec.connections?.notify?.webhookURLSecretRef?.name || ''}
                onInput={(e) => update((w) => { setNotify(w, 'name', e.target.value); })} />
              <input id="conn-notify-key" placeholder="key" value={wf.spec.connections?.notify?.webhookURLSecretRef?.key || ''}
                onInput={(e) => update((w) => { setNotify(w, 'key', e.target.value); })} />
            </label>
            <FieldErr errors={errors} path="spec.connections" />
          </fieldset>
        </div>
      )}
      {tab === 'yaml' && <YamlView wf={wf} setWf={(w) => { setSaved(''); setWf(w); }} />}
      {tab === 'test' && <TestPanel ns={ns} wf={wf} cat={cat} />}
    </section>
  );
}

function setNotify(w, k, v) {
  w.spec.connections = w.spec.connections || {};
  w.spec.connections.notify = w.spec.connections.notify || { webhookURLSecretRef: { name: '', key: '' } };
  w.spec.connections.notify.webhookURLSecretRef[k] = v;
  const ref = w.spec.connections.notify.webhookURLSecretRef;
  if (!ref.name && !ref.key) delete w.spec.connections.notify;
  if (Object.keys(w.spec.connections).length === 0) delete w.spec.connections;
}
