// The demo page (`GET /`) in a real browser: Debian's Chromium driven by playwright-core
// (no browser download). Against a server started with `serve --demo`, it:
//   - opens the page, selects the demo project, starts a session on intake.yaml and sees the
//     script's opening message (greeting and first question) without sending anything;
//   - sends two messages (answers to the script's questions) and waits for each streamed
//     reply, checking that the reply arrived as several deltas (the bubble grew more than once);
//   - checks the variables and script position after the turns, the session in the session
//     list, the history after a reload, the versions view and the task tree (which it seeds
//     through the API, since the demo project has no plan);
//   - saves docs/demo-ui.png (1280×800);
//   - checks that an API error reaches the error banner;
//   - with PLANBASE_TOKEN_URL and PLANBASE_TOKEN (a second server with auth.mode = token and a
//     user token for it), checks the 401 banner and then chatting with the saved token.
// Any console error, page error, failed request, HTTP error or off-host request fails it.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const base = (process.env.PLANBASE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const here = dirname(fileURLToPath(import.meta.url));
const screenshot = process.env.DEMO_UI_SCREENSHOT ?? resolve(here, '../../docs/demo-ui.png');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const tokenUrl = process.env.PLANBASE_TOKEN_URL?.replace(/\/$/, '');
const token = process.env.PLANBASE_TOKEN;
const origins = [base, tokenUrl].filter(Boolean).map((u) => u + '/');

async function api(path, method = 'GET', body) {
  const init = { method, headers: body ? { 'content-type': 'application/json' } : {} };
  if (body) init.body = JSON.stringify(body);
  const r = await fetch(base + path, init);
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

// ---- Setup through the API: the demo project and a small plan for the task tree view ----

const project = (await api('/api/v1/projects')).items.find((p) => p.name === 'Planbase demo');
if (!project) throw new Error('the demo project is missing: start the server with `serve --demo`');
const plan = `/api/v1/projects/${project.id}/tasks`;
if (!(await api(plan)).tasks.length) {
  const task = (name, status, instruction, children = []) => ({ name, status, instruction, children });
  await api(plan, 'PUT', {
    note: 'demo plan',
    tasks: [
      task('Ship the check-in script', 'running', 'Intake that asks for a name and a mood', [
        task('Draft intake.yaml', 'completed'),
        task('Review the questions', 'running', 'With a clinician, before 1.0.1'),
        task('Publish the next version', 'pending'),
      ]),
      task('Reflection technique', 'pending', 'use_skill: reflect', [
        task('Write reflect.yaml', 'completed'),
        task('Try it in a session', 'pending'),
      ]),
    ],
  });
  // One dependency, so the tree shows one: publishing waits for the review.
  const [ship] = (await api(plan)).tasks;
  const [, review, publish] = ship.children;
  await api(`${plan}/${publish.id}/dependencies`, 'POST', { depends_on: review.id });
}
const taskCount = (function count(nodes) {
  return nodes.reduce((n, t) => n + 1 + count(t.children ?? []), 0);
})((await api(plan)).tasks);

// ---- The browser ----------------------------------------------------------------------

const problems = [];
let expectHttpErrors = false; // true only while provoking an error on purpose

const browser = await chromium.launch({
  executablePath,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, colorScheme: 'light' });
const page = await context.newPage();
page.setDefaultTimeout(15_000);
// On every page load: count each change of text inside assistant bubbles. A streamed reply
// changes its bubble once per delta; a reply drawn in one go would change it once.
await context.addInitScript(() => {
  window.__textMutations = 0;
  document.addEventListener('DOMContentLoaded', () => {
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'characterData' && r.target.parentElement?.closest('.msg-assistant')) window.__textMutations += 1;
      }
    }).observe(document.getElementById('messages'), { subtree: true, characterData: true });
  });
});
page.on('console', (m) => {
  if (m.type() === 'error' && !expectHttpErrors) problems.push(`console error: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
// A navigation the test starts (goto, reload) cancels the page's requests still in flight;
// those ERR_ABORTEDs are the browser's doing, not a failure of the server or the page.
let navigating = false;
page.on('requestfailed', (r) => {
  const err = r.failure()?.errorText;
  if (navigating && err === 'net::ERR_ABORTED') return;
  problems.push(`request failed: ${r.method()} ${r.url()} (${err})`);
});
/** Runs a navigation of the test's own (see `navigating`). */
async function navigate(go) {
  navigating = true;
  try {
    await go();
  } finally {
    navigating = false;
  }
}
page.on('request', (r) => {
  if (!origins.some((o) => r.url().startsWith(o)) && !r.url().startsWith('data:')) problems.push(`off-host request: ${r.url()}`);
});
page.on('response', (r) => {
  if (r.status() >= 400 && !expectHttpErrors) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
});

let passed = 0;
/** Runs one named step; a failure (or a problem seen meanwhile) stops the test with its name. */
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    throw new Error(`step "${name}": ${e.message.split('\n')[0]}`);
  }
  if (problems.length) throw new Error(`step "${name}": ${problems.join('; ')}`);
  passed += 1;
  console.log(`  ok  ${name}`);
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const testid = (id) => `[data-testid="${id}"]`;
let sessionId;

/** Sends one message through the composer and returns the streamed reply's text and growth. */
async function chat(text) {
  const before = await page.locator(`${testid('message')}[data-role="assistant"]`).count();
  const mutations = await page.evaluate(() => window.__textMutations);
  await page.fill('#chat-input', text);
  await page.press('#chat-input', 'Enter');
  const reply = page.locator(`${testid('message')}[data-role="assistant"]`).nth(before);
  await reply.and(page.locator('[data-streaming="false"]')).waitFor();
  check(!(await reply.evaluate((el) => el.classList.contains('msg-failed'))), 'the reply failed');
  await page.locator('#send-button:not([disabled])').waitFor();
  const replyText = (await reply.locator('.bubble').innerText()).trim();
  const grew = (await page.evaluate(() => window.__textMutations)) - mutations;
  const deltas = Number(await reply.locator('.bubble').getAttribute('data-deltas'));
  return { replyText, grew, deltas };
}

try {
  await step('open the page', async () => {
    await navigate(() => page.goto(base + '/'));
    await page.locator('body[data-ready="true"]').waitFor();
    check(await page.locator('#error-banner').isHidden(), `error banner: ${await page.locator('#error-banner').innerText()}`);
    check((await page.title()).includes('Planbase'), `title: ${await page.title()}`);
    await page.locator(`#server-status[data-state="ok"]`).waitFor();
  });

  await step('list projects and select the demo project', async () => {
    await page.locator(`${testid('project-item')}[data-id="${project.id}"]`).click();
    await page.locator('#project-name', { hasText: 'Planbase demo' }).waitFor();
    await page.locator('#tab-files').click();
    const files = await page.locator(testid('file-item')).evaluateAll((els) => els.map((e) => e.dataset.file));
    for (const f of ['intake.yaml', 'reflection.yaml', 'global.yaml']) check(files.includes(f), `files: ${files}`);
  });

  await step('start a session on intake.yaml', async () => {
    const known = await page.locator(testid('session-item')).evaluateAll((els) => els.map((e) => e.dataset.id));
    await page.locator(`${testid('start-session')}[data-file="intake.yaml"]`).click();
    const current = page.locator(`${testid('session-item')}[aria-current="true"]`);
    await current.waitFor();
    sessionId = await current.getAttribute('data-id');
    check(!known.includes(sessionId), 'the open session is not a new one');
    await page.locator('#chat-input:not([disabled])').waitFor();
  });

  await step("the session opens with the script's greeting and first question", async () => {
    const opening = page.locator(`${testid('message')}[data-role="assistant"]`).first();
    await opening.filter({ hasText: 'What should I call you?' }).waitFor();
    await opening.filter({ hasText: "Planbase's demo assistant" }).waitFor();
    check((await page.locator(testid('message')).count()) === 1, 'the opening is the only message');
    check((await page.locator('#chat-empty').count()) === 0, 'the empty-chat hint is still shown');
    await page.locator('#state-position', { hasText: 'ask_name' }).waitFor();
  });

  await step('chat: the first message answers the question and streams the next one', async () => {
    const { replyText, grew, deltas } = await chat('Ann');
    check(replyText.includes('Nice to meet you, Ann'), `reply: ${JSON.stringify(replyText)}`);
    check(grew > 1, `the bubble grew ${grew} time(s)`);
    check(deltas > 1, `${deltas} text-delta chunk(s)`);
  });

  await step('chat: second message completes the script', async () => {
    const { replyText, grew, deltas } = await chat('about 7 today');
    check(replyText.includes('You rated your day 7'), `reply: ${JSON.stringify(replyText)}`);
    check(grew > 1 && deltas > 1, `the bubble grew ${grew} time(s) over ${deltas} delta(s)`);
  });

  await step('session state and variables are shown after the turn', async () => {
    await page.locator('#variables dd[data-var="name"]', { hasText: 'Ann' }).waitFor();
    await page.locator('#variables dd[data-var="mood"]', { hasText: '7' }).waitFor();
    await page.locator('#state-position', { hasText: 'Script completed' }).waitFor();
    await page.locator('#state-execution', { hasText: 'completed' }).waitFor();
  });

  await step('the session is in the session list', async () => {
    const item = page.locator(`${testid('session-item')}[data-id="${sessionId}"]`);
    await item.filter({ hasText: '5 msg' }).waitFor();
    await item.filter({ hasText: 'Ann' }).waitFor();
  });

  await step('history loads when the session is opened again', async () => {
    await navigate(() => page.reload());
    await page.locator('body[data-ready="true"]').waitFor();
    await page.locator(`${testid('session-item')}[data-id="${sessionId}"]`).click();
    await page.locator(testid('message')).nth(4).waitFor();
    const roles = await page.locator(testid('message')).evaluateAll((els) => els.map((e) => e.dataset.role));
    check(roles.join() === 'assistant,user,assistant,user,assistant', `messages: ${roles}`);
    await page.locator(testid('messages'), { hasText: 'Nice to meet you, Ann' }).waitFor();
  });

  await step('versions view', async () => {
    await page.locator('#tab-versions').click();
    const v = page.locator(`${testid('version-item')}[data-version="1.0.0"]`);
    await v.filter({ hasText: 'current' }).waitFor();
    await v.locator('summary').click();
    await v.locator('.version-files', { hasText: 'intake.yaml' }).waitFor();
  });

  await step('task tree view, collapsible', async () => {
    await page.locator('#tab-tasks').click();
    const nodes = page.locator(testid('task-node'));
    await nodes.nth(taskCount - 1).waitFor();
    check((await nodes.count()) === taskCount, `${await nodes.count()} task nodes, expected ${taskCount}`);
    const child = page.locator('.task-name').getByText('Draft intake.yaml', { exact: true });
    check(await child.isVisible(), 'the tree starts expanded');
    await page.locator('#tasks-collapse').click();
    check(await child.isHidden(), 'collapse all hides the children');
    await page.locator('.task-row', { hasText: 'Ship the check-in script' }).click();
    check(await child.isVisible(), 'a click on a parent expands it');
    await page.locator('#tasks-expand').click();
    await page.locator('.task-deps', { hasText: 'after #' }).waitFor();
  });

  await step(`screenshot → ${screenshot}`, async () => {
    await page.mouse.move(0, 0);
    await page.locator('#chat-input').blur();
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: false, animations: 'disabled' });
  });

  await step('an API error shows in the banner', async () => {
    // The session disappears behind the page's back: the next turn is a 404.
    await api(`/api/v1/sessions/${sessionId}`, 'DELETE');
    expectHttpErrors = true;
    await page.fill('#chat-input', 'still there?');
    await page.press('#chat-input', 'Enter');
    await page.locator('#error-banner', { hasText: 'session_not_found' }).waitFor();
    check((await page.locator('#error-code').innerText()).startsWith('404'), 'the banner shows the status');
    await page.locator('#error-close').click();
    check(await page.locator('#error-banner').isHidden(), 'the banner closes');
    expectHttpErrors = false;
  });

  if (tokenUrl && token) {
    await step('auth.mode = token: the 401 shows, then the saved token works', async () => {
      expectHttpErrors = true;
      await navigate(() => page.goto(tokenUrl + '/'));
      await page.locator('body[data-ready="true"]').waitFor();
      await page.locator('#error-banner', { hasText: '401 unauthorized' }).waitFor();
      await page.fill('#token-input', token);
      await page.press('#token-input', 'Enter');
      await page.locator(testid('project-item')).first().waitFor();
      check(await page.locator('#error-banner').isHidden(), 'the banner stays after a good token');
      expectHttpErrors = false;
      check((await page.evaluate(() => localStorage.getItem('planbase.token'))) === token, 'the token is not kept');
      await navigate(() => page.reload());
      await page.locator('body[data-ready="true"]').waitFor();
      await page.locator(`${testid('start-session')}[data-file="intake.yaml"]`).click();
      await page.locator('#chat-input:not([disabled])').waitFor();
      await page.locator(testid('messages'), { hasText: 'What should I call you?' }).waitFor();
      const { replyText } = await chat('Ann');
      check(replyText.includes('Nice to meet you, Ann'), `reply: ${JSON.stringify(replyText)}`);
    });
  } else {
    console.log('  --  auth.mode = token (skipped: set PLANBASE_TOKEN_URL and PLANBASE_TOKEN)');
  }

  console.log(`demo-ui e2e: ${passed} passed, 0 failed`);
} catch (e) {
  const failure = resolve(process.env.TMPDIR ?? '/tmp', 'demo-ui-failure.png');
  await page.screenshot({ path: failure }).catch(() => {});
  console.error(`demo-ui e2e FAILED: ${e.message}`);
  console.error(`  (page at failure: ${failure})`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
