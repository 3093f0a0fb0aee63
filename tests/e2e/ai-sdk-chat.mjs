// The Vercel AI SDK's own client against Planbase: DefaultChatTransport pointed at
// /api/v1/chat with the session id as the chat id, the stream read with
// readUIMessageStream, two turns re-sending the whole history as useChat does.
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

const messages = [];
async function turn(text) {
  messages.push({ id: `u${messages.length}`, role: 'user', parts: [{ type: 'text', text }] });
  const stream = await transport.sendMessages({
    chatId: session.id, messages, trigger: 'submit-message', messageId: undefined, abortSignal: undefined,
  });
  let last;
  for await (const message of readUIMessageStream({ stream, onError: (e) => { throw e; } })) last = message;
  if (!last || last.role !== 'assistant') throw new Error('no assistant message streamed');
  messages.push(last);
  return last.parts.filter((p) => p.type === 'text').map((p) => p.text).join('\n');
}

const first = await turn('hi');
if (!first.includes('What should I call you?')) throw new Error(`turn 1: ${first}`);
const second = await turn('Ann');
if (!second.includes('Nice to meet you, Ann')) throw new Error(`turn 2: ${second}`);
const stored = await json(`/api/v1/sessions/${session.id}/messages`);
if (stored.items.length !== 4) throw new Error(`expected 4 stored messages, got ${stored.items.length}`);
if (stored.items[1].id !== messages[1].id) throw new Error('the streamed message id is not the stored one');
console.log('ai-sdk e2e: 1 passed, 0 failed');
