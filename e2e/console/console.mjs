// The console's browser test: Playwright (playwright-core) drives Debian's
// headless Chromium through what an analyst does on a fresh `vigil up`.
// e2e/console_test.go starts vigil up and runs this script; each step
// prints one line, and a failure exits non-zero with the page saved.
//
// Environment: VIGIL_URL, VIGIL_PASSWORD (of "admin"), VIGIL_HOSTNAME,
// VIGIL_MARKER (unique to the run), VIGIL_VULN (an advisory the server's
// database matches on this host), ARTIFACTS (screenshots go there).
import { chromium } from 'playwright-core';
import { writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env('VIGIL_URL');
const password = env('VIGIL_PASSWORD');
const hostname = env('VIGIL_HOSTNAME');
const marker = env('VIGIL_MARKER');
const vuln = env('VIGIL_VULN');
const out = env('ARTIFACTS');
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));
page.on('response', (r) => { if (r.status() >= 400) consoleErrors.push(`${r.status()} ${r.url()}`); });

// Long tables (every package, every process) are shot as the viewport
// shows them: a full-page capture of thousands of rows is slow.
const shot = (name, fullPage = true) => page.screenshot({ path: join(out, `${name}.png`), fullPage, timeout: 90_000 });
const step = (s) => console.log(`step: ${s}`);

// poll reloads url until found() holds, for up to ms.
async function poll(url, found, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    await page.goto(base + url);
    if (await found()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} on ${url}`);
    await page.waitForTimeout(1000);
  }
}

const cronFile = `/etc/cron.d/${marker}`;
try {
  step('log in');
  await page.goto(base + '/');
  await page.waitForURL(/\/login/);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', 'not the password');
  await page.click('button[type=submit]');
  await page.locator('p.error').waitFor();
  consoleErrors.length = 0; // the refused login and the visit before it answer 401 by design
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await shot('dashboard');

  step('this host is listed, online');
  const hostLink = page.locator('table a', { hasText: hostname }).first();
  await poll('/hosts', async () => (await hostLink.count()) > 0, 60_000, `host ${hostname}`);
  await shot('hosts');
  await hostLink.click();
  await page.waitForURL(/\/hosts\/[^/?]+/);
  const hostURL = new URL(page.url()).pathname;

  step('its fingerprint arrived: packages, accounts, processes');
  await poll(`${hostURL}?tab=packages`, async () => (await page.locator('td', { hasText: /^bash$/ }).count()) > 0,
    120_000, 'the package list (bash)');
  await shot('host-packages', false);
  await page.goto(`${base}${hostURL}?tab=accounts`);
  await page.locator('td', { hasText: /^root$/ }).first().waitFor();
  await page.goto(`${base}${hostURL}?tab=processes`);
  await page.locator('td', { hasText: /vigil/ }).first().waitFor();
  await shot('host-processes', false);

  step('a cron persistence write on this host raises an alert');
  writeFileSync(cronFile, `# ${marker}\n* * * * * root /bin/true\n`);
  // Other tests on this host write cron files too: the list shows this
  // one's alert, found by its file, and the test opens it from the list.
  let alertID = '';
  await poll('/alerts?rule=VGL-PERSIST-CRON&status=open', async () => {
    const r = await page.request.get(base + '/api/v1/alerts?rule=VGL-PERSIST-CRON&status=open');
    if (!r.ok()) return false;
    const hit = (await r.json()).items.find((it) => JSON.stringify(it.alert.evidence).includes(cronFile));
    alertID = hit ? hit.alert.id : '';
    return alertID !== '' && (await page.locator(`#alert-rows a[href="/alerts/${alertID}"]`).count()) > 0;
  }, 60_000, `the VGL-PERSIST-CRON alert for ${cronFile}`);
  await shot('alerts');
  await page.locator(`#alert-rows a[href="/alerts/${alertID}"]`).first().click();
  await page.waitForURL(/\/alerts\/[^/?]+/);
  const alertURL = page.url();
  await page.getByText('VGL-PERSIST-CRON').first().waitFor();
  await page.getByText(cronFile).first().waitFor();
  await shot('alert');

  step('mark it handled');
  await page.getByRole('button', { name: 'Mark handled' }).click();
  await page.locator('#workflow').getByText('handled').first().waitFor();
  await page.goto(alertURL);
  await page.locator('#workflow select[name=status] option[selected]', { hasText: 'handled' }).waitFor({ state: 'attached' });

  step('order the fix of a vulnerability on this host');
  await poll(`/vulns/${encodeURIComponent(vuln)}`, async () => (await page.getByRole('button', { name: /^Fix on all/ }).count()) > 0,
    120_000, `advisory ${vuln} on this host`);
  await shot('vuln');
  await page.getByRole('button', { name: /^Fix on all/ }).click();
  await page.waitForURL(/\/tasks\/\d+/);
  await page.getByText('fix_packages').first().waitFor();
  // The agent verifies the signed task and reports a result.
  const taskURL = new URL(page.url()).pathname;
  await poll(taskURL, async () => (await page.locator('td', { hasText: /^(succeeded|failed)$/ }).count()) > 0, 120_000,
    'the fix task\'s result from the agent');
  await shot('task');

  step('the audit log shows both changes');
  await page.goto(base + '/audit');
  await page.locator('td', { hasText: 'alert.update' }).first().waitFor();
  await page.locator('td', { hasText: 'task.submit' }).first().waitFor();
  await shot('audit');

  if (consoleErrors.length) throw new Error(`browser console errors: ${consoleErrors.join('; ')}`);
  step('done');
} catch (e) {
  console.error(`FAILED at ${page.url()}: ${e.message}`);
  await shot('failure').catch(() => {});
  writeFileSync(join(out, 'failure.html'), await page.content().catch(() => ''));
  process.exitCode = 1;
} finally {
  try { unlinkSync(cronFile); } catch {}
  await browser.close();
}
