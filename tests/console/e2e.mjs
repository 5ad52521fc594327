// Drives the console in headless Chromium (the system's browser, through playwright-core)
// for tests/console.rs, which starts the broker and passes everything in the environment:
//   BASE, FV_BASE, DEAD_ID, OPERATOR_TOKEN, VIEWER_TOKEN, CHROMIUM, SCREENSHOT_DIR, MARKUP
// Exits non-zero (with the reason) on the first step that does not happen.
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('BASE');
const DEAD_ID = env('DEAD_ID');
const TIMEOUT = 20000;

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

function step(text) {
  console.log(`step: ${text}`);
}

async function login(token, locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(`${BASE}/console/`);
  await page.locator('#token').fill(token);
  await page.locator('#login').click();
  await page.locator('#who').filter({ hasText: '(' }).waitFor();
  return { page, context, problems };
}

try {
  // --- The viewer sees the dead letter, but cannot replay it (German labels from the locale).
  step('viewer logs in');
  const viewer = await login(env('VIEWER_TOKEN'), 'de-DE');
  await viewer.page.locator('#nav-dead').click();
  const vrow = viewer.page.locator(`#dead tr[data-id="${DEAD_ID}"]`);
  await vrow.waitFor();
  if ((await viewer.page.locator('#nav-dead').textContent()) !== 'Tote Nachrichten') {
    throw new Error('German labels expected for a de-DE browser');
  }
  if (!(await vrow.locator('button.replay').isDisabled())) {
    throw new Error('the replay button is enabled for a viewer');
  }
  // Forced through anyway (a modified page): the API refuses with 403.
  const status = await viewer.page.evaluate(async ([id]) => {
    const r = await fetch(`/admin/api/v1/messages/${id}/replay`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${sessionStorage.getItem('amtsbote.token')}` },
    });
    return r.status;
  }, [DEAD_ID]);
  if (status !== 403) throw new Error(`viewer replay answered ${status}, expected 403`);
  await viewer.context.close();

  // --- The operator finds the dead letter, the Fachverfahren is fixed, replay, delivered.
  step('operator logs in');
  const op = await login(env('OPERATOR_TOKEN'), 'en-GB');
  await op.page.locator('#lang').selectOption('en');
  await op.page.locator('#nav-dead').click();
  const row = op.page.locator(`#dead tr[data-id="${DEAD_ID}"]`);
  await row.waitFor();
  if ((await row.getAttribute('data-state')) !== 'dead') throw new Error('the row is not dead');
  // What the sender wrote is shown as text, never run: the hostile transport id stays inert.
  await op.page.locator(`#dead a[href="#message/${DEAD_ID}"]`).click();
  await op.page.locator('#msg-fields dd[data-field="transport_id"]').filter({ hasText: env('MARKUP') }).waitFor();
  if (await op.page.evaluate(() => window.__amtsbote_xss === 1)) throw new Error('markup from a sender ran');
  await op.page.locator('#timeline li[data-state="dead"]').waitFor();
  await op.page.screenshot({ path: `${env('SCREENSHOT_DIR')}/console-dead.png`, fullPage: true });

  step('the Fachverfahren is fixed');
  const fixed = await fetch(`${env('FV_BASE')}/_sandbox/mode`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ reject: false, unavailable: false }),
  });
  if (!fixed.ok) throw new Error(`sandbox mode: ${fixed.status}`);

  step('operator replays from the dead letters');
  await op.page.locator('#nav-dead').click();
  await row.locator('button.replay').click();
  // Gone from the dead letters once replayed.
  await row.waitFor({ state: 'detached' });
  step('the timeline shows it delivered');
  await op.page.goto(`${BASE}/console/#message/${DEAD_ID}`);
  await op.page.locator('#msg-fields [data-state="delivered"]').waitFor();
  await op.page.locator('#timeline li[data-state="replayed"]').filter({ hasText: 'operator:anna' }).waitFor();
  await op.page.locator('#msg-no-trace').waitFor();
  await op.page.screenshot({ path: `${env('SCREENSHOT_DIR')}/console-message.png`, fullPage: true });

  step('the overview counts it');
  await op.page.locator('a[href="#overview"]').click();
  await op.page.locator('#ov-states tr[data-connector="gewerberegister"] td[data-state="delivered"]').filter({ hasText: '1' }).waitFor();
  await op.page.screenshot({ path: `${env('SCREENSHOT_DIR')}/console-overview.png`, fullPage: true });

  const problems = [...viewer.problems, ...op.problems].filter((p) => !p.includes('403'));
  if (problems.length) throw new Error(problems.join('\n'));
  await op.context.close();
  console.log('ok');
} catch (e) {
  console.error(`console e2e failed: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
