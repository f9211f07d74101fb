// What the browser tests share: the `shenfen demo` stack on a free port,
// Debian's Chromium driven by playwright-core with a fake camera fed from a
// file, camera files made from real photos, and the axe-core check.

import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repository = resolve(here, '../..');
export const artifacts = join(repository, 'web/test-artifacts');
mkdirSync(artifacts, { recursive: true });

/** Chromium as DEVELOPERS.md says to run it on these machines. */
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** A TCP port free on this machine, for a server a test starts. */
export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
    server.on('error', reject);
  });
}

/**
 * Starts `shenfen demo` in a fresh data directory; resolves once it serves.
 * `env` adds to its environment (`RUST_LOG` to log each request); `log()`
 * answers everything it printed so far. The demo's services (the portal)
 * listen on a port of their own; `portal()` resolves with its origin once it serves;
 * `hotelDesk` is the hotel's desk device link, `police` the police's origin,
 * `railGate` the railway's gate device link.
 */
export async function startDemo({ env = {} } = {}) {
  const port = await freePort();
  const portalPort = await freePort();
  const railPort = await freePort();
  const binary = process.env.SHENFEN_BIN || join(repository, 'target/debug/shenfen');
  const dataDir = mkdtempSync(join(tmpdir(), 'shenfen-web-'));
  // Every service on a free port: the demo's defaults (8081–8084) may be taken by another demo.
  const [hotelPort, policePort] = [await freePort(), await freePort()];
  const args = [
    'demo', '--listen', `127.0.0.1:${port}`, '--portal-listen', `127.0.0.1:${portalPort}`, '--hotel-listen', `127.0.0.1:${hotelPort}`,
    '--police-listen', `127.0.0.1:${policePort}`, '--rail-listen', `127.0.0.1:${railPort}`, '--data-dir', dataDir,
  ];
  const child = spawn(binary, args, {
    cwd: repository,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => { output += chunk; });
  await new Promise((ready, failed) => {
    const timer = setTimeout(() => failed(new Error(`shenfen demo did not start:\n${output}`)), 300_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('shenfen serving on')) {
        clearTimeout(timer);
        ready();
      }
    });
    child.on('exit', (code) => failed(new Error(`shenfen demo exited (${code}):\n${output}`)));
  });
  const passwords = Object.fromEntries([...output.matchAll(/(?:Operator|Clerk|Officer) (\S+)\s+\(\w+\) password: (\S+)/g)].map((m) => [m[1], m[2]]));
  const counterToken = output.match(/Counter device .* token: (\S+)/)[1];
  const url = `http://127.0.0.1:${port}`;
  const portal = async () => {
    for (let waited = 0; waited < 60_000; waited += 200) {
      const origin = output.match(/Service 政务服务 portal: (http:\/\/\S+?)\/?\n/)?.[1];
      if (origin && (await fetch(`${origin}/healthz`).then((r) => r.ok, () => false))) return origin;
      await new Promise((wait) => setTimeout(wait, 200));
    }
    throw new Error(`the demo's portal did not start:\n${output}`);
  };
  // The hotel's desk (its device link) and the police's register, as the demo prints them.
  const hotelDesk = output.match(/ (http:\/\/\S+\/desk\/#device=\S+)/)[1];
  const police = output.match(/ (http:\/\/\S+?)\/ +the police's guest register/)[1];
  const railGate = output.match(/ (http:\/\/\S+\/gate\/#device=\S+)/)[1];
  return { url, binary, dataDir, passwords, counterToken, portal, hotelDesk, police, railGate, log: () => output, stop: () => child.kill('SIGTERM') };
}

/** Registers a relying party with `shenfen rp add` (and its `options`, e.g. `--redirect-uri`); returns its API key. */
export function addRelyingParty(demo, clientId, name, claims, options = []) {
  const args = ['rp', 'add', '--client-id', clientId, '--name', name, '--claims', claims.join(','), ...options, '--data-dir', demo.dataDir];
  const out = execFileSync(demo.binary, args, { cwd: repository, encoding: 'utf8' });
  return out.trim().split(' ').pop();
}

/** Calls the demo's API as a script would; answers the parsed JSON body and the status. */
export async function api(demo, method, path, body, bearer) {
  const headers = { 'content-type': 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch(`${demo.url}${path}`, { method, headers, body: body && JSON.stringify(body) });
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

/** A headless Chromium whose camera shows `cameraFile` (.mjpeg), or the default fake pattern. */
export async function browserWithCamera(cameraFile) {
  const args = [...CHROMIUM_FLAGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];
  if (cameraFile) args.push(`--use-file-for-fake-video-capture=${cameraFile}`);
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args });
}

/**
 * An MJPEG camera file (concatenated JPEG frames, which Chromium's fake
 * capture device plays in a loop) of one still scene: each layer a picture
 * (a Buffer of an image file) fitted into its box [x, y, w, h] on white —
 * with `selfie`, a portrait photo cropped to its top 60 % and scaled to fill
 * the box, as a face fills a selfie; otherwise never enlarged. The browser itself draws and encodes the frames, so no image
 * library is needed here.
 */
export async function cameraFile(browser, name, layers, { width = 640, height = 480, frames = 10 } = {}) {
  const page = await browser.newPage();
  const jpeg = await page.evaluate(async ({ layers, width, height }) => {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d');
    context.fillStyle = '#fff';
    context.fillRect(0, 0, width, height);
    for (const { base64, box: [x, y, w, h], selfie } of layers) {
      const image = new Image();
      image.src = `data:image/*;base64,${base64}`;
      await image.decode();
      const source = selfie ? [0, 0, image.width, image.height * 0.6] : [0, 0, image.width, image.height];
      // A screen is filmed at its own size or a whole multiple of it, pixels kept square (a bitmap scaled by
      // a fraction smears a QR code's modules); a photo fills its box.
      const fits = Math.min(w / source[2], h / source[3]);
      const scale = selfie ? fits : Math.min(fits, Math.max(1, Math.floor(fits)));
      context.imageSmoothingEnabled = selfie || scale < 1;
      const [dw, dh] = [source[2] * scale, source[3] * scale];
      context.drawImage(image, ...source, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
    }
    return canvas.toDataURL('image/jpeg', 1.0).split(',')[1];
  }, { layers: layers.map(({ picture, ...rest }) => ({ base64: picture.toString('base64'), ...rest })), width, height });
  await page.close();
  const file = join(artifacts, `${name}.mjpeg`);
  writeFileSync(file, Buffer.concat(Array.from({ length: frames }, () => Buffer.from(jpeg, 'base64'))));
  return file;
}

/**
 * Makes the camera of a browser context's pages film a face lit by the
 * phone's screen: the fake device's picture is redrawn on a canvas and,
 * while the wallet's colour-flash overlay (#flash) shows a colour, the middle
 * of the picture — where the selfie camera's face is — takes on that
 * colour's light (added, strongest in the middle, none in the corners), as
 * skin a forearm from a bright screen does and a wall behind does not.
 * The camera reacts to what the screen shows at the moment it shows it,
 * which a file prepared in advance cannot: Chromium's file camera plays
 * its frames on its own clock. With `wrongColours`, the face takes on
 * another colour than the screen's: a recording made for another session.
 */
export async function litByTheScreen(context, { wrongColours = false } = {}) {
  await context.addInitScript(({ wrongColours }) => {
    const other = { 'rgb(255, 0, 0)': [0, 255, 0], 'rgb(0, 255, 0)': [0, 0, 255], 'rgb(0, 0, 255)': [255, 255, 0], 'rgb(255, 255, 0)': [255, 0, 0] };
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const source = await original(constraints);
      const video = Object.assign(document.createElement('video'), { muted: true, playsInline: true, srcObject: source });
      await video.play();
      const canvas = Object.assign(document.createElement('canvas'), { width: video.videoWidth, height: video.videoHeight });
      const context = canvas.getContext('2d');
      const { width: w, height: h } = canvas;
      const draw = () => {
        context.globalCompositeOperation = 'source-over';
        context.drawImage(video, 0, 0);
        const overlay = document.getElementById('flash');
        if (overlay && !overlay.hidden) {
          const shown = getComputedStyle(overlay).backgroundColor;
          const [r, g, b] = wrongColours ? other[shown] : shown.match(/\d+/g).map(Number);
          const light = context.createRadialGradient(w / 2, h * 0.45, 0, w / 2, h * 0.45, Math.min(w, h) * 0.45);
          light.addColorStop(0, `rgba(${r}, ${g}, ${b}, 0.14)`);
          light.addColorStop(0.6, `rgba(${r}, ${g}, ${b}, 0.12)`);
          light.addColorStop(1, `rgba(${r}, ${g}, ${b}, 0)`);
          context.globalCompositeOperation = 'lighter';
          context.fillStyle = light;
          context.fillRect(0, 0, w, h);
        }
      };
      const timer = setInterval(draw, 30);
      const filmed = canvas.captureStream(30);
      const [track] = filmed.getVideoTracks();
      const stop = track.stop.bind(track);
      track.stop = () => {
        clearInterval(timer);
        stop();
        source.getTracks().forEach((t) => t.stop());
      };
      return filmed;
    };
  }, { wrongColours });
}

/** A phone's front camera filming the person holding it. */
export const selfieCamera = (browser, name, face) => cameraFile(browser, name, [{ picture: face, box: [0, 0, 640, 480], selfie: true }]);

/** A counter's camera filming a phone screen. */
export const screenCamera = (browser, name, screen) =>
  // 1080p, the phone close to the counter's camera: a phone-wide QR filmed at twice its size, modules kept sharp.
  cameraFile(browser, name, [{ picture: screen, box: [20, 20, 1040, 1040] }], { width: 1920, height: 1080 });

/** A counter's camera filming the phone screen held up beside the person's face. */
export const counterCamera = (browser, name, screen, face) =>
  cameraFile(browser, name, [{ picture: screen, box: [20, 20, 680, 680] }, { picture: face, box: [720, 0, 560, 720], selfie: true }], { width: 1280, height: 720 });

/** The phone `device` opens a service's wallet link (`?service=…`, in English); answers the QR's picture and what the wallet says it shows. */
export async function serviceQr(device, link) {
  const page = await openPage(device);
  await page.addInitScript(() => localStorage.setItem('shenfen.lang', 'en'));
  await page.goto(link);
  await waitForView(page, 'view-qr');
  const shown = { picture: await page.locator('#qr').screenshot({ type: 'png' }), what: await page.locator('#qr-what').textContent() };
  await page.close();
  return shown;
}

/** A photo of the demo registry's test set (models/photos, fetched by scripts/fetch-models.sh). */
export const photo = (name) => readFileSync(join(repository, 'models/photos', name));

/** A new page (of a browser, or of a context to share its storage) whose script errors show in the test output. */
export async function openPage(browserOrContext) {
  const page = await browserOrContext.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A refused request is a page's business (it shows it); script errors are the tests'.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) console.error(`console: ${message.text()}`);
  });
  return page;
}

/** Waits for the section `id` to show; on timeout, fails with what the page shows instead. */
export async function waitForView(page, id, timeout = 30_000) {
  try {
    await page.locator(`#${id}`).waitFor({ state: 'visible', timeout });
  } catch (error) {
    const shown = await page.evaluate(() =>
      [...document.querySelectorAll('main > section, #status')].filter((s) => !s.hidden).map((s) => `${s.id}: ${s.innerText}`).join('\n'),
    );
    throw new Error(`#${id} did not show within ${timeout} ms; the page shows:\n${shown}`, { cause: error });
  }
}

/** Saves a screenshot of the page as a test artifact. */
export async function screenshot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

/**
 * Saves a screenshot as a test artifact; with `SHENFEN_DOCUMENT=1` in the
 * environment also as a picture of the docs (docs/images). A plain test run
 * leaves the tracked pictures alone: they are refreshed deliberately.
 */
export async function documented(page, name) {
  await screenshot(page, name);
  if (process.env.SHENFEN_DOCUMENT !== '1') return;
  mkdirSync(join(repository, 'docs/images'), { recursive: true });
  copyFileSync(join(artifacts, `${name}.png`), join(repository, 'docs/images', `${name}.png`));
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The serious and critical accessibility violations axe-core finds on the page (WCAG 2.1 A/AA). */
export async function accessibilityViolations(page) {
  // Evaluated through the DevTools protocol: the pages' CSP forbids inline scripts, rightly.
  await page.evaluate(axeSource);
  const results = await page.evaluate(() => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }));
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** The demo citizen who can enroll with a real face (demo/README.md): photos obama2.jpg and obama3.jpg are them. */
export const CITIZEN = { id: '110105196108040136', name: '王建国' };

/** Opens the enrollment form (from the card, when the phone holds one), fills it for `citizen` (the demo citizen) and starts the face check. */
export async function startEnrollment(page, demo, edition = 'lightweight', upgraded = {}, citizen = CITIZEN) {
  await page.goto(`${demo.url}/wallet/`);
  await page.waitForFunction(() => ['view-card', 'view-enroll'].some((id) => !document.getElementById(id).hidden));
  if (await page.locator('#view-card').isVisible()) await page.locator('#show-enroll').click();
  await page.getByLabel(/ID number|身份证号/).fill(citizen.id);
  await page.getByLabel(/^Name$|^姓名$/).fill(citizen.name);
  await page.locator('#long-term').check();
  await page.locator('#edition').selectOption(edition);
  if (edition === 'upgraded') {
    await page.getByLabel(/slip|凭条/).fill(upgraded.txCode);
    await page.getByLabel(/Choose a 6-digit PIN|设置 6 位 PIN/).fill(upgraded.pin);
  }
  await page.locator('#enroll-start').click();
}

/** Once the movements are filmed, says the person is ready for the screen's colours. */
export async function readyForTheColours(page) {
  await page.locator('#flash-start').click({ timeout: 60_000 });
}

/** A new phone (a context of `browser`, its camera lit by the screen) holding `citizen`'s card (the demo citizen's), enrolled at `demo`. */
export async function phoneWithCard(browser, demo, citizen = CITIZEN) {
  const phone = await browser.newContext();
  await litByTheScreen(phone);
  const page = await openPage(phone);
  await startEnrollment(page, demo, 'lightweight', {}, citizen);
  await readyForTheColours(page);
  await waitForView(page, 'view-card', 120_000);
  await page.close();
  return phone;
}

/**
 * A counter operator signs in to the console and attests the demo citizen
 * for the upgraded edition (as after checking the card in person); answers
 * the code printed on the citizen's slip. With `screenshotName`, saves the page.
 */
export async function attestAtTheConsole(browser, demo, screenshotName) {
  const page = await openPage(browser);
  try {
    await page.goto(`${demo.url}/console/`);
    await page.getByLabel(/Operator name|工号/).fill('demo-counter');
    await page.getByLabel(/Password|密码/).fill(demo.passwords['demo-counter']);
    await page.getByRole('button', { name: /Sign in|登录/ }).click();
    await page.locator('#lookup-id').fill(CITIZEN.id);
    await page.locator('#attest').click();
    await waitForView(page, 'lookup-result');
    if (screenshotName) await screenshot(page, screenshotName);
    return (await page.locator('#lookup-fields dd').first().textContent()).trim();
  } finally {
    await page.close();
  }
}

/**
 * Starts a program of the repository (an example relying party) with extra
 * environment; `waitFor(pattern)` resolves with the first match of its
 * output (stdout and stderr) — or fails with the output when it exits or
 * times out first; `stop()` ends it.
 */
export function startProgram(command, args, env = {}) {
  const child = spawn(command, args, { cwd: repository, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exitCode = null;
  const checks = new Set();
  const changed = () => checks.forEach((check) => check());
  child.stdout.on('data', (chunk) => { output += chunk; changed(); });
  child.stderr.on('data', (chunk) => { output += chunk; changed(); });
  child.on('exit', (code) => { exitCode = code; changed(); });
  const waitFor = (pattern, timeout = 60_000) => new Promise((resolveMatch, reject) => {
    const done = () => { clearTimeout(timer); checks.delete(check); };
    const check = () => {
      const match = output.match(pattern);
      if (match) {
        done();
        resolveMatch(match[0]);
      } else if (exitCode !== null) {
        done();
        reject(new Error(`${command} exited (${exitCode}) before printing ${pattern}:\n${output}`));
      }
    };
    const timer = setTimeout(() => { done(); reject(new Error(`${command} did not print ${pattern} within ${timeout} ms:\n${output}`)); }, timeout);
    checks.add(check);
    check();
  });
  return { waitFor, stop: () => child.kill('SIGTERM') };
}
