// The Vercel AI SDK's own client against Planbase: DefaultChatTransport pointed at
// /api/v1/chat with the session id as the chat id, the stream read with
// readUIMessageStream, two turns re-sending the whole history as useChat does. The history
// starts with the script's opening message, which the session create answered with.
// Fails (exit 1) on any protocol violation the SDK reports or on a wrong reply.
import { DefaultChatTransport, readUIMessageStream } from 'ai';

const base = process.env.PLANBASE_URL ?? 'http://127.0.0.1:8080';

async function json(path, body) {
  const r = await fetch(base + path, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

const project = (await json('/api/v1/projects')).items.find((p) => p.name === 'Planbase demo');
if (!project) throw new Error('the demo project is missing');
const session = await json('/api/v1/sessions', { project_id: project.id, version_id: project.current_version_id });
const transport = new DefaultChatTransport({ api: base + '/api/v1/chat' });
const texts = (m) => m.parts.filter((p) => p.type === 'text').map((p) => p.text).join('\n');

// The session opened with the script's greeting and first question: useChat's first message.
const opening = session.opening_message;
if (!opening || !texts(opening).includes('What should I call you?')) throw new Error(`opening: ${JSON.stringify(opening)}`);
const messages = [{ id: opening.id, role: opening.role, parts: opening.parts }];
async function turn(text) {
  messages.push({ id: `u${messages.length}`, role: 'user', parts: [{ type: 'text', text }] });
  const stream = await transport.sendMessages({
    chatId: session.id, messages, trigger: 'submit-message', messageId: undefined, abortSignal: undefined,
  });
  let last;
  for await (const message of readUIMessageStream({ stream, onError: (e) => { throw e; } })) last = message;
  if (!last || last.role !== 'assistant') throw new Error('no assistant message streamed');
  messages.push(last);
  return texts(last);
}

// The first message answers the opening's question.
const first = await turn('Ann');
if (!first.includes('Nice to meet you, Ann')) throw new Error(`turn 1: ${first}`);
const second = await turn('about 7 today');
if (!second.includes('You rated your day 7')) throw new Error(`turn 2: ${second}`);
const stored = await json(`/api/v1/sessions/${session.id}/messages`);
if (stored.items.length !== 5) throw new Error(`expected 5 stored messages, got ${stored.items.length}`);
if (stored.items[0].id !== opening.id) throw new Error('the opening is not the first stored message');
if (stored.items[2].id !== messages[2].id) throw new Error('the streamed message id is not the stored one');
console.log('ai-sdk e2e: 1 passed, 0 failed');
