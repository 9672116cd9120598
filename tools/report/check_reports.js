// Opens each xpusim HTML report in headless Chromium and fails unless every chart rendered.
//   node check_reports.js CHROMIUM SCREENSHOT_DIR REPORT.html...
// A report fails on any console error or uncaught exception, on any request for anything but
// the file itself (a report must be self-contained), when the page does not say it rendered, or
// when a chart drew no data marks. One PNG screenshot per report goes to SCREENSHOT_DIR.
'use strict';
const path = require('path');
const { pathToFileURL } = require('url');
const puppeteer = require('puppeteer-core');

async function check(browser, file, screenshots) {
  const problems = [];
  const page = await browser.newPage();
  const url = pathToFileURL(path.resolve(file)).href;
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    const u = r.url();
    if (u === url || u.startsWith('data:') || u.startsWith('blob:')) return r.continue();
    problems.push(`fetched ${u}`);
    return r.abort();
  });
  await page.setViewport({ width: 1000, height: 800 });
  await page.goto(url, { waitUntil: 'load' });
  const rendered = await page
    .waitForFunction(() => document.body.dataset.rendered, { timeout: 30000 })
    .then(() => page.evaluate(() => document.body.dataset.rendered))
    .catch(() => 'never finished rendering within 30 s');
  if (rendered !== 'true') problems.push(`not rendered: ${rendered}`);
  const charts = await page.evaluate(() =>
    [...document.querySelectorAll('div[id^="chart-"]')].map((d) => ({
      id: d.id,
      marks: [...d.querySelectorAll('svg g.role-mark')].reduce((n, g) => n + g.children.length, 0),
      title: d.querySelector('svg g.role-title text')?.textContent ?? '',
      axes: d.querySelectorAll('svg g.role-axis').length,
    })));
  if (charts.length === 0) problems.push('no charts');
  for (const c of charts) {
    if (c.marks === 0) problems.push(`${c.id} (${c.title}): no data marks`);
    if (!c.title) problems.push(`${c.id}: no title`);
    if (c.axes === 0) problems.push(`${c.id} (${c.title}): no axes`);
  }
  const png = path.join(screenshots, path.basename(file).replace(/\.html$/, '.png'));
  await page.screenshot({ path: png, fullPage: true });
  await page.close();
  console.log(`${path.basename(file)}: ${charts.length} charts, ` +
              `${charts.map((c) => c.marks).join('/')} marks, screenshot ${png}`);
  return problems.map((p) => `${path.basename(file)}: ${p}`);
}

async function main() {
  const [chromium, screenshots, ...files] = process.argv.slice(2);
  if (!chromium || !screenshots || files.length === 0) {
    console.error('usage: node check_reports.js CHROMIUM SCREENSHOT_DIR REPORT.html...');
    process.exit(2);
  }
  const args = ['--headless=new', '--disable-gpu', '--allow-file-access-from-files'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');  // root needs it
  const browser = await puppeteer.launch({ executablePath: chromium, args });
  let problems = [];
  try {
    for (const f of files) problems = problems.concat(await check(browser, f, screenshots));
  } finally {
    await browser.close();
  }
  for (const p of problems) console.error(p);
  console.log(`${files.length - new Set(problems.map((p) => p.split(':')[0])).size} passed, ` +
              `${new Set(problems.map((p) => p.split(':')[0])).size} failed`);
  process.exit(problems.length === 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
