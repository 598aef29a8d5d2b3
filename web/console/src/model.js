// The Workflow the builder edits, and the conversions between form fields
// and the API's shapes.

export function newWorkflow(ns) {
  return {
    apiVersion: 'crmflow.io/v1alpha1', kind: 'Workflow',
    metadata: { name: '', namespace: ns },
    spec: { state: 'Draft', trigger: { event: { types: ['contact.created'] } }, conditions: [], steps: [] },
  };
}

// prune drops empty strings, nulls and empty arrays (the API omits them) but
// keeps empty objects: `wait: {}` still says which action a step is.
export function prune(v) {
  if (Array.isArray(v)) return v.map(prune);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === '' || x === null || x === undefined) continue;
      if (Array.isArray(x) && x.length === 0 && k !== 'steps') continue;
      out[k] = prune(x);
    }
    return out;
  }
  return v;
}

export const ACTION_KINDS = ['updateContact', 'addTags', 'removeTags', 'addToSegment', 'removeFromSegment', 'assignContact',
  'sendEmail', 'sendSMS', 'notify', 'createTask', 'createLead', 'updateLeadStatus', 'createTicket', 'assignTicket',
  'callWebhook', 'updateExternalCRM', 'triggerZapier', 'wait', 'waitForEvent', 'branch', 'end'];

export function stepKind(step) {
  return ACTION_KINDS.find((k) => step[k] !== undefined) || '';
}

// Form text <-> API value, per field kind.
export function toText(kind, v) {
  if (v === undefined || v === null) return '';
  switch (kind) {
    case 'list': case 'eventTypes': return (v || []).join('\n');
    case 'map': return Object.entries(v || {}).map(([k, x]) => `${k}: ${x}`).join('\n');
    default: return String(v);
  }
}

export function fromText(kind, text) {
  switch (kind) {
    case 'list': case 'eventTypes': return text.split('\n').map((s) => s.trim()).filter(Boolean);
    case 'map': {
      const out = {};
      for (const line of text.split('\n')) {
        const i = line.indexOf(':');
        if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
        else if (line.trim()) out[line.trim()] = '';
      }
      return out;
    }
    default: return text;
  }
}

// Condition values: JSON when it parses (numbers, booleans, lists), else text;
// In/NotIn take a comma-separated list too.
export function parseValue(text, op) {
  if (op === 'Exists' || op === 'NotExists' || text === '') return undefined;
  try { return JSON.parse(text); } catch { /* plain text */ }
  if (op === 'In' || op === 'NotIn') return text.split(',').map((s) => s.trim()).filter(Boolean);
  return text;
}

// indentJSON lays out a JSON text with two-space indents, as
// JSON.stringify(JSON.parse(text), null, 2) does, but keeps every token as
// written: a JavaScript number would turn the contact id 9007199254740993
// (above 2^53) into 9007199254740992, and Test would run with another contact.
export function indentJSON(text) {
  let out = '';
  let depth = 0;
  const newline = () => '\n' + '  '.repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === '{' || c === '[') {
      let j = i + 1;
      while (/\s/.test(text[j] || '')) j++;
      if (text[j] === (c === '{' ? '}' : ']')) { out += c + text[j]; i = j; continue; }
      depth++;
      out += c + newline();
    } else if (c === '}' || c === ']') {
      depth--;
      out += newline() + c;
    } else if (c === ',') {
      out += ',' + newline();
    } else if (c === ':') {
      out += ': ';
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

export function showValue(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// fieldPaths lists dotted paths of an example payload for suggestions.
export function fieldPaths(obj, prefix = '') {
  const out = [];
  for (const [k, v] of Object.entries(obj || {})) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p);
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...fieldPaths(v, p));
  }
  return out;
}

// errorsAt returns the problems reported for path exactly or inside it.
export function errorsAt(errors, path) {
  return (errors || []).filter((e) => e.field === path || e.field.startsWith(path + '.') || e.field.startsWith(path + '['));
}
