// The web pages' weight and load time in Debian's Chromium against
// `shenfen demo` (release build), beside a baseline measured in the same run:
// loading `/healthz` (a few bytes, no script) from the same server in the same
// browser. Prints one table; docs/BENCHMARKS.md records its results.
//
// Run: bench/web_pages.sh  (builds the release binary, then this driver)

import { browserWithCamera, startDemo } from '../web/tests/harness.mjs';

const RUNS = Number(process.env.RUNS || 20);
const PAGES = [
  ['wallet', '/wallet/', '#view-enroll:not([hidden])'],
  ['counter', '/counter/', '#language button'],
  ['console', '/console/', '#language button'],
];

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Milliseconds from navigation start to `ready` (a selector) in a fresh context, and the bytes fetched. */
async function load(browser, url, ready) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let bytes = 0;
  // Bytes as transferred (compressed where the server compresses), from each finished request's sizes.
  page.on('requestfinished', async (request) => {
    const sizes = await request.sizes().catch(() => null);
    if (sizes) bytes += sizes.responseBodySize;
  });
  const started = performance.now();
  await page.goto(url);
  if (ready) await page.locator(ready).first().waitFor({ state: 'attached' });
  const elapsed = performance.now() - started;
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(100);
  await context.close();
  return { elapsed, bytes };
}

const demo = await startDemo();
const browser = await browserWithCamera();
try {
  const baseline = [];
  for (let i = 0; i < RUNS; i++) baseline.push((await load(browser, `${demo.url}/healthz`)).elapsed);
  const base = median(baseline);
  console.log(`| page | bytes transferred | median load to interactive (${RUNS} fresh contexts) | × /healthz (${base.toFixed(1)} ms) |`);
  console.log('|---|---|---|---|');
  for (const [name, path, ready] of PAGES) {
    const runs = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const run = await load(browser, `${demo.url}${path}`, ready);
      runs.push(run.elapsed);
      bytes = run.bytes;
    }
    const time = median(runs);
    console.log(`| ${name} | ${bytes.toLocaleString('en')} | ${time.toFixed(1)} ms | ${(time / base).toFixed(1)}× |`);
  }
} finally {
  await browser.close();
  demo.stop();
}
