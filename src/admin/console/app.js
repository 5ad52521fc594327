// The amtsbote console: a small single-page app on top of the admin API (/admin/api/v1).
// Everything shown comes from the ledger, and much of it from senders (tenant ids, transport
// ids, standards): it is only ever put into the page as text (textContent), never as HTML.
'use strict';

const API = '/admin/api/v1';
const TOKEN_KEY = 'amtsbote.token';
const LANG_KEY = 'amtsbote.lang';

const TEXT = {
  de: {
    lang: 'Sprache', logout: 'Abmelden',
    'nav.overview': 'Übersicht', 'nav.messages': 'Nachrichten', 'nav.dead': 'Tote Nachrichten',
    'login.title': 'Anmelden', 'login.token': 'Zugangs-Token',
    'login.help': 'Fügen Sie Ihr Admin-Token ein ([[admin.tokens]] der Broker-Konfiguration). Es bleibt nur in diesem Browser-Tab.',
    'login.submit': 'Anmelden', 'login.failed': 'Anmeldung fehlgeschlagen',
    'ov.received': 'Empfangen (letzte Stunde)', 'ov.delivered': 'Zugestellt (letzte Stunde)',
    'ov.oldest_waiting': 'Älteste wartende Nachricht', 'ov.oldest_attention': 'Älteste Nachricht für Bedienende',
    'ov.by_connector': 'Zustände je Konnektor', 'ov.none': 'keine', 'ov.connector': 'Konnektor',
    'f.tenant': 'Mandant', 'f.state': 'Zustand', 'f.connector': 'Konnektor', 'f.standard': 'Standard',
    'f.from': 'Empfangen ab', 'f.to': 'Empfangen bis', 'f.search': 'Suchen', more: 'Weitere laden',
    'col.id': 'ID', 'col.tenant': 'Mandant', 'col.standard': 'Standard', 'col.connector': 'Konnektor',
    'col.state': 'Zustand', 'col.received': 'Empfangen', 'col.attempts': 'Versuche', 'col.reason': 'Letzter Grund',
    'col.actions': 'Aktionen',
    'dead.help': 'Tote und nicht zuordenbare Nachrichten warten auf Sie: nach der Behebung erneut senden, oder als von Hand erledigt markieren.',
    'dead.replay_all': 'Alle angezeigten erneut senden', 'dead.empty': 'Keine toten Nachrichten.',
    'act.replay': 'Erneut senden', 'act.resolve': 'Erledigt', 'act.purge': 'Nutzdaten löschen',
    'act.viewer': 'Nur mit der Rolle operator möglich',
    'act.reason_resolve': 'Was wurde von Hand erledigt? (wird im Verlauf gespeichert)',
    'act.reason_purge': 'Warum werden die Nutzdaten jetzt gelöscht? (wird im Verlauf gespeichert)',
    'act.replayed': 'Erneut gesendet', 'act.done': 'Erledigt',
    'msg.title': 'Nachricht', 'msg.timeline': 'Verlauf', 'msg.trace': 'Trace anzeigen',
    'msg.no_trace': 'kein Trace aufgezeichnet',
    'field.tenant': 'Mandant', 'field.source': 'Quelle', 'field.transport_id': 'Transport-ID',
    'field.state': 'Zustand', 'field.standard': 'Standard / Typ', 'field.connector': 'Konnektor / Route',
    'field.received_at': 'Empfangen', 'field.updated_at': 'Geändert', 'field.attempts': 'Zustellversuche',
    'field.last_reason': 'Letzter Grund', 'field.parts': 'Teile',
    state: { received: 'empfangen', validated: 'geprüft', routed: 'zugeordnet', delivering: 'wird zugestellt',
      delivered: 'zugestellt', rejected: 'abgewiesen', unrouted: 'nicht zuordenbar', retrying: 'neuer Versuch',
      dead: 'tot', replayed: 'erneut gesendet', resolved: 'erledigt', purged: 'gelöscht' },
  },
  en: {
    lang: 'Language', logout: 'Log out',
    'nav.overview': 'Overview', 'nav.messages': 'Messages', 'nav.dead': 'Dead letters',
    'login.title': 'Log in', 'login.token': 'Access token',
    'login.help': 'Paste your admin token ([[admin.tokens]] in the broker configuration). It stays in this browser tab only.',
    'login.submit': 'Log in', 'login.failed': 'Login failed',
    'ov.received': 'Received (last hour)', 'ov.delivered': 'Delivered (last hour)',
    'ov.oldest_waiting': 'Oldest waiting message', 'ov.oldest_attention': 'Oldest message needing an operator',
    'ov.by_connector': 'States per connector', 'ov.none': 'none', 'ov.connector': 'Connector',
    'f.tenant': 'Tenant', 'f.state': 'State', 'f.connector': 'Connector', 'f.standard': 'Standard',
    'f.from': 'Received from', 'f.to': 'Received until', 'f.search': 'Search', more: 'Load more',
    'col.id': 'ID', 'col.tenant': 'Tenant', 'col.standard': 'Standard', 'col.connector': 'Connector',
    'col.state': 'State', 'col.received': 'Received', 'col.attempts': 'Attempts', 'col.reason': 'Last reason',
    'col.actions': 'Actions',
    'dead.help': 'Dead and unrouted messages wait for you: replay them once the cause is fixed, or mark them resolved when dealt with by hand.',
    'dead.replay_all': 'Replay all shown', 'dead.empty': 'No dead letters.',
    'act.replay': 'Replay', 'act.resolve': 'Resolve', 'act.purge': 'Purge payload',
    'act.viewer': 'Needs the role operator',
    'act.reason_resolve': 'What was done by hand? (kept in the history)',
    'act.reason_purge': 'Why delete the payload now? (kept in the history)',
    'act.replayed': 'Replayed', 'act.done': 'Done',
    'msg.title': 'Message', 'msg.timeline': 'Timeline', 'msg.trace': 'Show trace',
    'msg.no_trace': 'no trace recorded',
    'field.tenant': 'Tenant', 'field.source': 'Source', 'field.transport_id': 'Transport id',
    'field.state': 'State', 'field.standard': 'Standard / type', 'field.connector': 'Connector / route',
    'field.received_at': 'Received', 'field.updated_at': 'Updated', 'field.attempts': 'Delivery attempts',
    'field.last_reason': 'Last reason', 'field.parts': 'Parts',
    state: { received: 'received', validated: 'validated', routed: 'routed', delivering: 'delivering',
      delivered: 'delivered', rejected: 'rejected', unrouted: 'unrouted', retrying: 'retrying',
      dead: 'dead', replayed: 'replayed', resolved: 'resolved', purged: 'purged' },
  },
};
const STATES = Object.keys(TEXT.en.state);

let lang = localStorage.getItem(LANG_KEY)
  || ((navigator.language || 'en').toLowerCase().startsWith('de') ? 'de' : 'en');
let me = null;
let refresh = null;
let cursor = null;

const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[lang][key] ?? TEXT.en[key] ?? key;
const stateName = (s) => TEXT[lang].state[s] ?? s;

/** An element with text content (never HTML) and optional attributes. */
function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function when(ms) {
  return new Date(ms).toLocaleString(lang === 'de' ? 'de-DE' : 'en-GB');
}

function age(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s} s` : `${s} s`;
}

function stateBadge(s) {
  return el('span', stateName(s), { class: `state state-${s}`, 'data-state': s });
}

function idLink(id) {
  const a = el('a', id, { href: `#message/${encodeURIComponent(id)}`, class: 'id' });
  return a;
}

function showError(text) {
  const e = $('error');
  e.textContent = text || '';
  e.hidden = !text;
}

/** Calls the admin API with the session's token; problems become exceptions with their detail. */
async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Authorization: `Bearer ${token}` };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(API + path, {
    method: options.method || 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) {
    logout();
    throw new Error(`${t('login.failed')}: ${data.detail || resp.status}`);
  }
  if (!resp.ok) throw new Error(data.detail || `HTTP ${resp.status}`);
  return data;
}

function applyLanguage() {
  document.documentElement.lang = lang;
  $('lang').value = lang;
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  const select = $('f-state');
  select.replaceChildren(el('option', '', { value: '' }));
  for (const s of STATES) select.append(el('option', stateName(s), { value: s }));
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  route();
}

function canWrite() {
  return me && me.role === 'operator';
}

/** A button for a write; disabled (with a tooltip) for viewers. */
function actionButton(key, onClick, cls) {
  const b = el('button', t(key), { type: 'button', class: cls });
  if (!canWrite()) {
    b.disabled = true;
    b.title = t('act.viewer');
  }
  b.addEventListener('click', async () => {
    b.disabled = true;
    showError('');
    try {
      await onClick();
    } catch (e) {
      showError(e.message);
      b.disabled = false;
    }
  });
  return b;
}

async function replay(id) {
  await api(`/messages/${encodeURIComponent(id)}/replay`, { method: 'POST', body: {} });
}

async function resolve(id) {
  const reason = window.prompt(t('act.reason_resolve'));
  if (!reason) throw new Error(t('act.reason_resolve'));
  await api(`/messages/${encodeURIComponent(id)}/resolve`, { method: 'POST', body: { reason } });
}

async function purge(id) {
  const reason = window.prompt(t('act.reason_purge'));
  if (!reason) throw new Error(t('act.reason_purge'));
  await api(`/messages/${encodeURIComponent(id)}/purge`, { method: 'POST', body: { reason } });
}

function header(table, keys) {
  const tr = el('tr');
  for (const k of keys) tr.append(el('th', t(k)));
  table.tHead.replaceChildren(tr);
}

function standardOf(m) {
  const h = m.header || {};
  return [h.standard, h.message_type].filter(Boolean).join(' ') || m.content_type;
}

function messageRow(m) {
  const tr = el('tr', null, { 'data-id': m.id, 'data-state': m.state });
  tr.append(
    el('td').appendChild(idLink(m.id)).parentNode,
    el('td', m.tenant),
    el('td', standardOf(m)),
    el('td', m.connector || '–'),
    el('td').appendChild(stateBadge(m.state)).parentNode,
    el('td', when(m.received_at)),
    el('td', m.attempts, { class: 'num' }),
  );
  return tr;
}

// --- pages -------------------------------------------------------------------------------

async function showOverview() {
  const o = await api('/overview');
  $('ov-received').textContent = o.last_hour.received;
  $('ov-delivered').textContent = o.last_hour.delivered;
  for (const [id, oldest] of [['ov-waiting', o.oldest_waiting], ['ov-attention', o.oldest_attention]]) {
    const box = $(id);
    if (!oldest) {
      box.replaceChildren(el('span', t('ov.none'), { class: 'muted' }));
    } else {
      box.replaceChildren(el('div', age(oldest.age_seconds)), idLink(oldest.id), el('div', null).appendChild(stateBadge(oldest.state)).parentNode);
    }
  }
  // Counts per connector × state, summed over tenants.
  const counts = new Map();
  const used = new Set();
  for (const c of o.states) {
    const key = c.connector || '–';
    if (!counts.has(key)) counts.set(key, {});
    counts.get(key)[c.state] = (counts.get(key)[c.state] || 0) + c.count;
    used.add(c.state);
  }
  const states = STATES.filter((s) => used.has(s));
  const table = $('ov-states');
  const tr = el('tr', null);
  tr.append(el('th', t('ov.connector')), ...states.map((s) => el('th', stateName(s))));
  table.tHead.replaceChildren(tr);
  table.tBodies[0].replaceChildren(...[...counts.entries()].map(([connector, byState]) => {
    const row = el('tr', null, { 'data-connector': connector });
    row.append(el('td', connector), ...states.map((s) => el('td', byState[s] || 0, { class: 'num', 'data-state': s })));
    return row;
  }));
}

function filterQuery() {
  const form = new FormData($('filter'));
  const q = new URLSearchParams();
  for (const [k, v] of form.entries()) {
    if (!v) continue;
    // datetime-local has no zone: it is the operator's local time.
    q.set(k, k.startsWith('received_') ? new Date(v).toISOString() : v);
  }
  return q;
}

async function showMessages(more = false) {
  const q = filterQuery();
  q.set('limit', '50');
  if (more && cursor) q.set('cursor', cursor);
  const page = await api(`/messages?${q}`);
  const table = $('messages');
  header(table, ['col.id', 'col.tenant', 'col.standard', 'col.connector', 'col.state', 'col.received', 'col.attempts']);
  const rows = page.messages.map(messageRow);
  if (more) table.tBodies[0].append(...rows); else table.tBodies[0].replaceChildren(...rows);
  cursor = page.next_cursor;
  $('more').hidden = !cursor;
}

async function showDead() {
  const page = await api('/messages?state=dead,unrouted&limit=1000');
  const table = $('dead');
  header(table, ['col.id', 'col.tenant', 'col.standard', 'col.connector', 'col.state', 'col.received', 'col.attempts', 'col.reason', 'col.actions']);
  const rows = page.messages.map((m) => {
    const tr = messageRow(m);
    tr.append(el('td', m.last_reason));
    const actions = el('td');
    actions.append(
      actionButton('act.replay', async () => { await replay(m.id); await showDead(); }, 'replay'),
      actionButton('act.resolve', async () => { await resolve(m.id); await showDead(); }, 'resolve'),
    );
    tr.append(actions);
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = el('tr');
    tr.append(el('td', t('dead.empty'), { colspan: '9', class: 'muted' }));
    table.tBodies[0].append(tr);
  }
  const all = $('replay-all');
  all.disabled = !canWrite() || page.messages.length === 0;
  all.title = canWrite() ? '' : t('act.viewer');
  all.onclick = async () => {
    all.disabled = true;
    try {
      const report = await api('/messages/replay', { method: 'POST', body: { ids: page.messages.map((m) => m.id) } });
      if (report.failed.length) showError(report.failed.map((f) => `${f.id}: ${f.problem.detail}`).join('\n'));
    } catch (e) {
      showError(e.message);
    }
    await showDead();
  };
}

async function showMessage(id) {
  const m = await api(`/messages/${encodeURIComponent(id)}`);
  $('msg-id').textContent = m.id;
  const fields = [
    ['field.state', stateBadge(m.state)],
    ['field.tenant', m.tenant],
    ['field.source', m.source],
    ['field.transport_id', m.transport_id || '–'],
    ['field.standard', standardOf(m)],
    ['field.connector', [m.connector, m.route].filter(Boolean).join(' / ') || '–'],
    ['field.received_at', when(m.received_at)],
    ['field.updated_at', when(m.updated_at)],
    ['field.attempts', m.attempts],
    ['field.last_reason', m.last_reason],
    ['field.parts', m.parts.map((p) => `${p.name} (${p.content_type}, ${p.size} B)`).join(', ') || '–'],
  ];
  $('msg-fields').replaceChildren(...fields.flatMap(([key, value]) => {
    const dd = el('dd', typeof value === 'object' ? null : value, { 'data-field': key.slice(6) });
    if (typeof value === 'object') dd.append(value);
    return [el('dt', t(key)), dd];
  }));
  $('timeline').replaceChildren(...m.history.map((h) => {
    const li = el('li', null, { 'data-state': h.state });
    const attempt = h.attempt ? ` · #${h.attempt}` : '';
    li.append(stateBadge(h.state), el('span', ` ${h.reason}`),
      el('div', `${when(h.at)} · ${h.actor}${attempt}`, { class: 'meta' }));
    return li;
  }));
  const link = $('msg-trace');
  const safe = typeof m.trace_url === 'string' && /^https?:\/\//.test(m.trace_url);
  link.hidden = !safe;
  $('msg-no-trace').hidden = safe;
  if (safe) link.href = m.trace_url; else link.removeAttribute('href');
  const wire = (button, allowed, action) => {
    button.disabled = !canWrite() || !allowed;
    button.title = canWrite() ? '' : t('act.viewer');
    button.onclick = async () => {
      button.disabled = true;
      showError('');
      try { await action(m.id); } catch (e) { showError(e.message); }
      await showMessage(m.id);
    };
  };
  wire($('msg-replay'), ['dead', 'unrouted'].includes(m.state), replay);
  wire($('msg-resolve'), ['dead', 'unrouted'].includes(m.state), resolve);
  wire($('msg-purge'), ['delivered', 'rejected', 'dead', 'unrouted', 'resolved'].includes(m.state), purge);
}

// --- navigation ----------------------------------------------------------------------------

const PAGES = ['login', 'overview', 'messages', 'dead', 'message'];

async function route() {
  clearInterval(refresh);
  const hash = decodeURIComponent(location.hash.slice(1)) || 'overview';
  const [page, arg] = hash.split('/');
  const token = sessionStorage.getItem(TOKEN_KEY);
  const target = !token ? 'login' : PAGES.includes(page) ? page : 'overview';
  for (const p of PAGES) $(`${p}-page`).hidden = p !== target;
  $('nav').hidden = !token;
  $('logout').hidden = !token;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === `#${target}`);
  if (!token) {
    $('who').textContent = '';
    return;
  }
  try {
    if (!me) {
      me = await api('/me');
      $('who').textContent = `${me.name} (${me.role})`;
    }
    const show = {
      overview: () => showOverview(),
      messages: () => showMessages(),
      dead: () => showDead(),
      message: () => showMessage(arg),
    }[target];
    await show();
    // The overview and a message's timeline follow the ledger by themselves; lists with
    // buttons stay put under the operator's pointer.
    if (target === 'overview' || target === 'message') {
      refresh = setInterval(() => show().catch((e) => showError(e.message)), 2000);
    }
  } catch (e) {
    showError(e.message);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  applyLanguage();
  $('lang').addEventListener('change', () => {
    lang = $('lang').value;
    localStorage.setItem(LANG_KEY, lang);
    applyLanguage();
    route();
  });
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    showError('');
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    me = null;
    route();
  });
  $('logout').addEventListener('click', logout);
  $('filter').addEventListener('submit', (ev) => {
    ev.preventDefault();
    cursor = null;
    showMessages().catch((e) => showError(e.message));
  });
  $('more').addEventListener('click', () => showMessages(true).catch((e) => showError(e.message)));
  window.addEventListener('hashchange', route);
  route();
});
