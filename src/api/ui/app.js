// Planbase demo page: a small client of Planbase's own HTTP API, in plain modern JavaScript.
//
// - Lists projects (GET /api/v1/projects) and sessions (GET /api/v1/sessions).
// - Shows a project's files, versions and plan task tree.
// - Starts a session on a session script (POST /api/v1/sessions; the session opens with the
//   script's own message, its first actions up to the first question) and chats with it
//   through POST /api/v1/chat, the endpoint the AI SDK's DefaultChatTransport calls. The reply is
//   the AI SDK UI message stream (server-sent events), parsed here by hand with fetch and a
//   ReadableStream, so each text delta lands in the bubble as it is read.
// - Shows every API error (`{"error": {"code", "message", ...}}`) in a banner.
//
// All text from the server goes into the page with textContent / text nodes, never innerHTML.

const TOKEN_KEY = 'planbase.token';

/** What the page knows; the DOM is redrawn from it. */
const state = {
  token: localStorage.getItem(TOKEN_KEY) ?? '',
  projects: [],
  project: null, // the selected project (GET /projects/{id})
  files: [], // its files
  versions: [], // its versions, newest first
  tab: 'files',
  sessions: [],
  session: null, // the open session (GET /sessions/{id})
  messages: [], // its messages as AI SDK UIMessages, oldest first
  olderCursor: null, // `before` cursor for older history, or null
  streaming: false,
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------
// HTTP

/** An API error, read from Planbase's standard error body. */
class ApiError extends Error {
  constructor(status, error) {
    super(error.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error.code ?? 'error';
    this.suggestion = error.suggestion ?? null;
    this.requestId = error.request_id ?? null;
  }

  static async from(response) {
    const text = await response.text();
    let error = { code: `http_${response.status}`, message: text || response.statusText };
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === 'object') error = body.error;
    } catch {
      // Not JSON (a proxy's page, say): keep the raw text.
    }
    return new ApiError(response.status, error);
  }
}

/**
 * Calls the API. JSON in and out; `raw: true` returns the Response (for streams).
 * Sends `Authorization: Bearer` when a token is saved.
 */
async function api(path, { method = 'GET', body, raw = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { code: 'network_error', message: `${method} ${path} failed: ${e.message}` });
  }
  if (!response.ok) throw await ApiError.from(response);
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

/**
 * Reads an AI SDK UI message stream: SSE events whose `data:` is one JSON chunk, ending with
 * `data: [DONE]`. Yields each chunk as soon as its event is complete.
 */
async function* uiMessageChunks(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    // Events end with a blank line.
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // Lines starting with ':' are comments (keep-alives); only `data:` lines matter here.
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      if (data === '[DONE]') {
        // Nothing follows; read the body to its end in the background rather than cancel the
        // request (a cancelled request shows as failed).
        drain(reader);
        return;
      }
      yield JSON.parse(data);
    }
  }
}

async function drain(reader) {
  try {
    while (!(await reader.read()).done);
  } catch {
    // The connection went away after [DONE]: nothing was lost.
  }
}

// ---------------------------------------------------------------------------------------
// DOM helpers

/** `h('p', {class: 'x'}, 'text', child)`: builds an element; strings become text nodes. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "3 minutes ago" for an RFC 3339 time. */
function ago(iso) {
  if (!iso) return '';
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const steps = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [30, 'day'],
    [12, 'month'],
  ];
  let amount = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(amount) < size) return relative.format(Math.round(amount), unit);
    amount /= size;
  }
  return relative.format(Math.round(amount), 'year');
}

/** An id the server keeps (≤ 128 chars of [A-Za-z0-9_-]); works outside secure contexts too. */
function newId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + '-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function badge(text, kind = text) {
  return h('span', { class: `badge badge-${kind}` }, text);
}

// ---------------------------------------------------------------------------------------
// Error banner

function showError(err) {
  const e = err instanceof ApiError ? err : new ApiError(0, { code: 'client_error', message: String(err?.message ?? err) });
  $('error-code').textContent = e.status ? `${e.status} ${e.code}` : e.code;
  $('error-message').textContent = e.message + (e.suggestion ? ` — ${e.suggestion}` : '');
  $('error-banner').title = e.requestId ? `request id ${e.requestId}` : '';
  $('error-banner').hidden = false;
  if (e.status === 401) $('token-input').focus();
}

function hideError() {
  $('error-banner').hidden = true;
}

/** Wraps an async event handler so that any failure lands in the banner. */
const guard =
  (fn) =>
  async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      showError(err);
    }
  };

// ---------------------------------------------------------------------------------------
// Server status and token

async function loadHealth() {
  const el = $('server-status');
  try {
    const health = await api('/health');
    el.dataset.state = health.status === 'ok' ? 'ok' : 'warn';
    $('server-status-text').textContent = `v${health.version} · ${health.status}`;
  } catch {
    el.dataset.state = 'down';
    $('server-status-text').textContent = 'unreachable';
  }
}

/** Keeps the token in localStorage (or forgets it when empty) and reloads with it. */
async function saveToken(event) {
  event.preventDefault();
  state.token = $('token-input').value.trim();
  if (state.token) localStorage.setItem(TOKEN_KEY, state.token);
  else localStorage.removeItem(TOKEN_KEY);
  hideError();
  await refreshAll();
  if (!state.project && state.projects.length) await selectProject(state.projects[0].id);
}

// ---------------------------------------------------------------------------------------
// Projects

async function loadProjects() {
  const page = await api('/api/v1/projects?limit=100');
  state.projects = page.items;
  renderProjects();
}

function renderProjects() {
  const list = $('project-list');
  list.replaceChildren(
    ...state.projects.map((p) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'nav-item',
            'data-testid': 'project-item',
            'data-id': p.id,
            'aria-current': state.project?.id === p.id ? 'true' : null,
            onclick: guard(() => selectProject(p.id)),
          },
          h('span', { class: 'nav-title' }, p.name),
          h('span', { class: 'nav-sub' }, badge(p.status), p.tags?.length ? ` ${p.tags.join(', ')}` : ''),
        ),
      ),
    ),
  );
  if (!state.projects.length) {
    list.append(h('li', { class: 'nav-empty' }, 'No projects yet. Create one with POST /api/v1/projects.'));
  }
}

async function selectProject(id) {
  const [project, files, versions] = await Promise.all([
    api(`/api/v1/projects/${id}`),
    api(`/api/v1/projects/${id}/files?limit=200`),
    api(`/api/v1/projects/${id}/versions?limit=200`),
  ]);
  state.project = project;
  state.files = files.items;
  state.versions = versions.items;
  renderProjects();
  renderProject();
  await showTab(state.tab);
  setHash();
}

function renderProject() {
  const p = state.project;
  $('project-empty').hidden = true;
  $('project-detail').hidden = false;
  $('project-name').textContent = p.name;
  const status = $('project-status');
  status.textContent = p.status;
  status.className = `badge badge-${p.status}`;
  $('project-description').textContent = p.description ?? '';
  const current = state.versions.find((v) => v.id === p.current_version_id);
  $('project-meta').textContent = [
    current ? `v${current.version_number}` : 'unpublished',
    p.author ? `by ${p.author}` : null,
    `updated ${ago(p.updated_at)}`,
  ]
    .filter(Boolean)
    .join(' · ');
  renderFiles();
  renderVersions();
}

async function showTab(tab) {
  state.tab = tab;
  for (const name of ['files', 'versions', 'tasks']) {
    $(`tab-${name}`).setAttribute('aria-selected', String(name === tab));
    $(`pane-${name}`).hidden = name !== tab;
  }
  if (!state.project) return;
  // Versions and tasks change behind the page's back: re-read them when shown.
  if (tab === 'versions') {
    state.versions = (await api(`/api/v1/projects/${state.project.id}/versions?limit=200`)).items;
    renderVersions();
  } else if (tab === 'tasks') {
    await loadTasks();
  }
}

/** Session scripts first (they can start sessions), then the project's other files. */
function renderFiles() {
  const order = (f) => (f.file_type === 'session' ? 0 : 1);
  const files = [...state.files].sort((a, b) => order(a) - order(b));
  $('file-list').replaceChildren(
    ...files.map((f) => {
      const start =
        f.file_type === 'session'
          ? h(
              'button',
              {
                type: 'button',
                class: 'btn btn-primary btn-small',
                'data-testid': 'start-session',
                'data-file': f.file_name,
                // Inside <summary>: keep the click from toggling the file open.
                onclick: guard(async (event) => {
                  event.preventDefault();
                  await startSession(f);
                }),
              },
              'Start session',
            )
          : null;
      return h(
        'li',
        { class: 'card file-item', 'data-testid': 'file-item', 'data-file': f.file_name },
        h(
          'details',
          {},
          h(
            'summary',
            {},
            h('span', { class: 'file-name' }, f.file_name),
            badge(f.file_type, 'type'),
            h('span', { class: 'spacer' }),
            start,
          ),
          h('pre', { class: 'yaml' }, f.yaml_content),
        ),
      );
    }),
  );
}

function renderVersions() {
  const list = $('version-list');
  const current = state.project?.current_version_id;
  list.replaceChildren(
    ...state.versions.map((v) => {
      const files = h('ul', { class: 'version-files' });
      // The version's files are read the first time it is opened.
      const details = h(
        'details',
        {
          ontoggle: guard(async () => {
            if (!details.open || files.childElementCount) return;
            const full = await api(`/api/v1/projects/${state.project.id}/versions/${v.id}`);
            files.replaceChildren(
              ...(full.files ?? []).map((f) =>
                h('li', {}, h('span', { class: 'file-name' }, f.file_name), badge(f.file_type, 'type')),
              ),
            );
          }),
        },
        h(
          'summary',
          {},
          h('span', { class: 'version-number' }, `v${v.version_number}`),
          v.id === current ? badge('current', 'current') : null,
          v.is_rollback ? badge('rollback', 'rollback') : null,
          h('span', { class: 'spacer' }),
          h('span', { class: 'meta' }, ago(v.published_at), v.published_by ? ` by ${v.published_by}` : null),
        ),
        v.release_note ? h('p', { class: 'release-note' }, v.release_note) : null,
        files,
      );
      return h('li', { class: 'card version-item', 'data-testid': 'version-item', 'data-version': v.version_number }, details);
    }),
  );
  if (!state.versions.length) {
    list.append(h('li', { class: 'empty' }, 'Not published yet: POST /api/v1/projects/{id}/versions publishes the draft.'));
  }
}

// ---------------------------------------------------------------------------------------
// Plan task tree

async function loadTasks() {
  const { tasks } = await api(`/api/v1/projects/${state.project.id}/tasks`);
  const tree = $('task-tree');
  if (!tasks.length) {
    tree.replaceChildren(h('p', { class: 'empty' }, 'No plan tasks yet. Add them with POST /api/v1/projects/{id}/tasks.'));
    return;
  }
  tree.replaceChildren(h('ul', { class: 'tree' }, tasks.map(renderTask)));
}

/** Counts a subtree's tasks and its completed ones. */
function progress(task) {
  let done = 0;
  let total = 0;
  for (const child of task.children ?? []) {
    const p = progress(child);
    done += p.done + (child.status === 'completed' ? 1 : 0);
    total += p.total + 1;
  }
  return { done, total };
}

/** One node; a node with children is a <details>, so it folds natively. */
function renderTask(task) {
  const children = task.children ?? [];
  const { done, total } = progress(task);
  const label = h(
    'span',
    { class: 'task-label' },
    h('span', { class: `status-dot status-${task.status}`, title: task.status }),
    h('span', { class: 'task-name' }, task.name),
    h('span', { class: 'task-id' }, `#${task.id}`),
    task.dependencies?.length
      ? h('span', { class: 'task-deps' }, `after ${task.dependencies.map((d) => `#${d}`).join(', ')}`)
      : null,
    h('span', { class: 'spacer' }),
    total ? h('span', { class: 'task-progress' }, `${done}/${total}`) : null,
    badge(task.status),
  );
  const instruction = task.instruction ? h('div', { class: 'task-instruction' }, task.instruction) : null;
  const attrs = { class: 'task', 'data-testid': 'task-node', 'data-task-id': task.id };
  if (!children.length) return h('li', { ...attrs, class: 'task leaf' }, h('div', { class: 'task-row' }, label), instruction);
  return h(
    'li',
    attrs,
    h(
      'details',
      { open: true },
      h('summary', { class: 'task-row' }, label),
      instruction,
      h('ul', { class: 'tree' }, children.map(renderTask)),
    ),
  );
}

function foldTasks(open) {
  for (const d of $('task-tree').querySelectorAll('details')) d.open = open;
}

// ---------------------------------------------------------------------------------------
// Sessions

async function loadSessions() {
  const page = await api('/api/v1/sessions?limit=100');
  state.sessions = page.items;
  renderSessions();
}

function projectName(id) {
  return state.projects.find((p) => p.id === id)?.name ?? null;
}

function renderSessions() {
  const list = $('session-list');
  list.replaceChildren(
    ...state.sessions.map((s) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'nav-item',
            'data-testid': 'session-item',
            'data-id': s.id,
            'aria-current': state.session?.id === s.id ? 'true' : null,
            onclick: guard(() => openSession(s.id)),
          },
          h(
            'span',
            { class: 'nav-title' },
            h('span', { class: `status-dot status-${s.status}`, title: s.status }),
            s.name ?? 'New session',
          ),
          h(
            'span',
            { class: 'nav-sub' },
            [projectName(s.project_id), `${s.message_count} msg`, ago(s.last_message_at ?? s.created_at)]
              .filter(Boolean)
              .join(' · '),
          ),
        ),
      ),
    ),
  );
  if (!state.sessions.length) list.append(h('li', { class: 'nav-empty' }, 'No sessions yet. Start one from a session script.'));
}

async function startSession(file) {
  const session = await api('/api/v1/sessions', {
    method: 'POST',
    body: { project_id: state.project.id, script_file_id: file.id },
  });
  await loadSessions();
  await openSession(session.id);
  $('chat-input').focus();
}

/** Opens a session: its state, variables and the newest page of its history. */
async function openSession(id) {
  const [session, history] = await Promise.all([
    api(`/api/v1/sessions/${id}`),
    api(`/api/v1/sessions/${id}/messages?limit=100`),
  ]);
  state.session = session;
  state.messages = history.items.map(toUiMessage);
  state.olderCursor = history.next_cursor;
  renderSessions();
  renderChat();
  await loadVariables();
  $('chat-input').disabled = false;
  $('chat-input').placeholder = 'Type a message — Enter sends';
  $('send-button').disabled = false;
  setHash();
  if (session.project_id && session.project_id !== state.project?.id && projectName(session.project_id)) {
    await selectProject(session.project_id);
  }
}

/** A stored message as the AI SDK's UIMessage. */
function toUiMessage(m) {
  return { id: m.id, role: m.role, parts: m.parts, metadata: m.metadata ?? undefined };
}

async function loadOlder() {
  const id = state.session.id;
  const page = await api(`/api/v1/sessions/${id}/messages?limit=100&before=${state.olderCursor}`);
  state.messages = [...page.items.map(toUiMessage), ...state.messages];
  state.olderCursor = page.next_cursor;
  renderMessages({ keepScroll: true });
}

/** Re-reads the session (status, position) and its variables after a turn. */
async function refreshSession() {
  state.session = await api(`/api/v1/sessions/${state.session.id}`);
  renderChatHead();
  await loadVariables();
}

function renderChat() {
  renderChatHead();
  renderMessages();
}

function renderChatHead() {
  const s = state.session;
  $('chat-title').textContent = s.name ?? 'New session';
  const script = state.files.find((f) => f.id === s.script_file_id)?.file_name;
  $('chat-subtitle').textContent = [projectName(s.project_id), script, `${s.message_count} messages`]
    .filter(Boolean)
    .join(' · ');
  $('chat-subtitle').title = `session ${s.id}`;
  $('session-state').hidden = false;
  const st = s.state ?? { status: s.status, execution_status: s.execution_status, position: {} };
  for (const [el, value] of [
    [$('state-status'), st.status],
    [$('state-execution'), st.execution_status],
  ]) {
    el.textContent = value;
    el.className = `badge badge-${value}`;
  }
  renderPosition(st.position ?? {});
}

/** Where the script stands: phase › topic › action, and the ask round. */
function renderPosition(pos) {
  const el = $('state-position');
  el.hidden = false;
  if (!pos.phaseId) {
    const scripted = state.session.script_file_id || state.session.version_id;
    // A finished script has no position left, only `completed`.
    const label = pos.completed ? 'Script completed' : scripted ? 'Script not started yet' : 'Free chat (no script)';
    el.replaceChildren(h('span', { class: 'meta' }, label));
    return;
  }
  const crumbs = [pos.phaseId, pos.topicId, pos.actionId].filter(Boolean);
  const nodes = [
    h('span', { class: 'position-label' }, pos.completed ? 'Script completed' : 'Script at'),
    ...crumbs.flatMap((c, i) => [i ? h('span', { class: 'crumb-sep' }, '›') : null, h('code', {}, c)]),
    pos.actionType ? h('span', { class: 'meta' }, pos.actionType) : null,
    pos.maxRounds ? h('span', { class: 'meta' }, `round ${pos.currentRound ?? 0}/${pos.maxRounds}`) : null,
  ];
  el.replaceChildren(...nodes.filter(Boolean));
}

/** GET /sessions/{id}/variables: the resolved values, each tagged with its scope. */
async function loadVariables() {
  const vars = await api(`/api/v1/sessions/${state.session.id}/variables`);
  const scopes = ['topic', 'phase', 'session', 'global'];
  const names = Object.keys(vars.resolved ?? {}).sort();
  const list = $('variables');
  list.replaceChildren(
    ...names.flatMap((name) => {
      const scope = scopes.find((s) => vars.scopes?.[s] && name in vars.scopes[s]) ?? '';
      const value = vars.resolved[name];
      return [
        h('dt', { 'data-var': name }, name, scope ? h('span', { class: 'scope' }, scope) : null),
        h('dd', { 'data-var': name }, typeof value === 'string' ? value : JSON.stringify(value)),
      ];
    }),
  );
  if (!names.length) list.append(h('p', { class: 'meta' }, 'No variables set yet.'));
  $('variables-count').textContent = names.length ? String(names.length) : '';
  $('variables-panel').hidden = false;
}

// ---------------------------------------------------------------------------------------
// Messages

function renderMessages({ keepScroll = false } = {}) {
  const box = $('messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  const nodes = state.messages.map(messageView);
  if (state.olderCursor != null) {
    const older = { type: 'button', class: 'btn-link load-older', id: 'load-older', onclick: guard(loadOlder) };
    nodes.unshift(h('button', older, 'Load earlier messages'));
  }
  // A scripted session opens with the script's own message; this shows only without one
  // (no script, or the model failed at the start: the first message then runs the opening).
  if (!state.messages.length) {
    nodes.push(h('div', { class: 'empty', id: 'chat-empty' }, 'No messages yet. Say something to start.'));
  }
  box.replaceChildren(...nodes);
  box.scrollTop = keepScroll ? box.scrollHeight - fromBottom : box.scrollHeight;
}

/** A message row: avatar and bubble; the bubble holds one element per part. */
function messageView(message) {
  const bubble = h('div', { class: 'bubble' });
  for (const part of message.parts ?? []) {
    const el = partView(part);
    if (el) bubble.append(el);
  }
  return messageRow(message.role, message.id, bubble);
}

function messageRow(role, id, bubble) {
  const initials = { user: 'You', assistant: 'AI' }[role] ?? role.slice(0, 3);
  const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' }, initials);
  return h('div', { class: `msg msg-${role}`, 'data-testid': 'message', 'data-role': role, 'data-id': id }, avatar, bubble);
}

/** The parts this page draws: text, reasoning and tool calls. Others are kept but not shown. */
function partView(part) {
  if (part.type === 'text') return h('p', { class: 'part-text' }, part.text ?? '');
  if (part.type === 'reasoning') return h('p', { class: 'part-reasoning' }, part.text ?? '');
  if (part.type === 'dynamic-tool' || part.type.startsWith('tool-')) {
    const name = part.toolName ?? part.type.replace(/^tool-/, '');
    return toolView(name, part.input, part.output ?? part.errorText);
  }
  return null;
}

function toolView(name, input, output) {
  const card = h('details', { class: 'tool' }, h('summary', {}, '⚙ ', h('code', {}, name)));
  card.append(h('pre', { class: 'tool-io' }, 'input: ' + JSON.stringify(input ?? null, null, 2)));
  if (output !== undefined) card.append(h('pre', { class: 'tool-io tool-output' }, 'output: ' + JSON.stringify(output, null, 2)));
  return card;
}

// ---------------------------------------------------------------------------------------
// Chat: POST /api/v1/chat, read as it streams

async function send(event) {
  event?.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text || !state.session || state.streaming) return;
  input.value = '';
  autosize();
  setStreaming(true);
  try {
    await chatTurn(text);
  } finally {
    setStreaming(false);
    input.focus();
  }
  // The turn is stored; show where the script got to and the new session name and count.
  await Promise.all([refreshSession(), loadSessions()]);
}

function setStreaming(on) {
  state.streaming = on;
  $('send-button').disabled = on;
  $('send-button').textContent = on ? '…' : 'Send';
  $('chat-form').classList.toggle('busy', on);
}

/**
 * One turn, as DefaultChatTransport sends it: `{id: sessionId, messages, trigger}`. The server
 * owns the history and takes only the last user message; the rest is sent as useChat would.
 */
async function chatTurn(text) {
  const user = { id: newId('u'), role: 'user', parts: [{ type: 'text', text }] };
  state.messages.push(user);
  $('chat-empty')?.remove();
  const box = $('messages');
  box.append(messageView(user));

  // The assistant's bubble, filled as chunks arrive.
  const bubble = h('div', { class: 'bubble streaming', 'data-deltas': '0' });
  const row = messageRow('assistant', '', bubble);
  row.dataset.streaming = 'true';
  box.append(row);
  box.scrollTop = box.scrollHeight;

  const assistant = { id: '', role: 'assistant', parts: [] };
  const open = new Map(); // part id → { node: Text, part } for text and reasoning being streamed
  const tools = new Map(); // toolCallId → card
  let deltas = 0;
  try {
    const response = await api('/api/v1/chat', {
      method: 'POST',
      body: { id: state.session.id, messages: state.messages, trigger: 'submit-message' },
      raw: true,
    });
    for await (const chunk of uiMessageChunks(response)) {
      switch (chunk.type) {
        case 'start':
          assistant.id = chunk.messageId ?? newId('a');
          row.dataset.id = assistant.id;
          break;
        case 'start-step':
          // Each action that speaks is a step; the stored message marks them with step-start.
          if (assistant.parts.length) assistant.parts.push({ type: 'step-start' });
          break;
        case 'text-start':
        case 'reasoning-start': {
          const kind = chunk.type.startsWith('text') ? 'text' : 'reasoning';
          const node = document.createTextNode('');
          bubble.append(h('p', { class: `part-${kind}` }, node));
          const part = { type: kind, text: '' };
          assistant.parts.push(part);
          open.set(chunk.id, { node, part });
          break;
        }
        case 'text-delta':
        case 'reasoning-delta': {
          const target = open.get(chunk.id);
          if (!target) break;
          target.node.appendData(chunk.delta);
          target.part.text += chunk.delta;
          bubble.dataset.deltas = String(++deltas);
          box.scrollTop = box.scrollHeight;
          break;
        }
        case 'text-end':
        case 'reasoning-end':
          open.delete(chunk.id);
          break;
        case 'tool-input-available': {
          const card = toolView(chunk.toolName, chunk.input);
          tools.set(chunk.toolCallId, card);
          bubble.append(card);
          const { toolName, toolCallId, input } = chunk;
          assistant.parts.push({ type: `tool-${toolName}`, toolCallId, state: 'input-available', input });
          break;
        }
        case 'tool-output-available': {
          const output = 'output: ' + JSON.stringify(chunk.output, null, 2);
          tools.get(chunk.toolCallId)?.append(h('pre', { class: 'tool-io tool-output' }, output));
          const part = assistant.parts.find((p) => p.toolCallId === chunk.toolCallId);
          if (part) Object.assign(part, { state: 'output-available', output: chunk.output });
          break;
        }
        case 'error':
          throw new ApiError(0, { code: 'stream_error', message: chunk.errorText ?? 'the stream reported an error' });
        default:
          // finish-step, finish, data-*, sources …: nothing to draw.
          break;
      }
    }
    state.messages.push(assistant);
  } catch (err) {
    row.classList.add('msg-failed');
    if (!bubble.childElementCount) bubble.append(h('p', { class: 'part-error' }, 'No reply.'));
    throw err;
  } finally {
    bubble.classList.remove('streaming');
    row.dataset.streaming = 'false';
  }
}

/** Grows the composer with its text, up to a limit. */
function autosize() {
  const input = $('chat-input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

// ---------------------------------------------------------------------------------------
// Start-up and the URL hash (#project=…&session=…), so a reload reopens the same view

function setHash() {
  const params = new URLSearchParams();
  if (state.project) params.set('project', state.project.id);
  if (state.session) params.set('session', state.session.id);
  history.replaceState(null, '', `#${params}`);
}

async function refreshAll() {
  await Promise.all([loadHealth(), loadProjects(), loadSessions()]);
}

async function start() {
  $('token-input').value = state.token;
  $('token-form').addEventListener('submit', guard(saveToken));
  $('error-close').addEventListener('click', hideError);
  $('refresh-projects').addEventListener('click', guard(loadProjects));
  $('refresh-sessions').addEventListener('click', guard(loadSessions));
  for (const tab of ['files', 'versions', 'tasks']) $(`tab-${tab}`).addEventListener('click', guard(() => showTab(tab)));
  $('tasks-expand').addEventListener('click', () => foldTasks(true));
  $('tasks-collapse').addEventListener('click', () => foldTasks(false));
  $('chat-form').addEventListener('submit', guard(send));
  const input = $('chat-input');
  input.addEventListener('input', autosize);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('chat-form').requestSubmit();
    }
  });

  await refreshAll();
  const hash = new URLSearchParams(location.hash.slice(1));
  const projectId = hash.get('project') ?? state.projects[0]?.id;
  if (projectId) await selectProject(projectId);
  if (hash.get('session')) await openSession(hash.get('session'));
  document.body.dataset.ready = 'true';
}

guard(start)().finally(() => {
  document.body.dataset.ready = 'true';
});
