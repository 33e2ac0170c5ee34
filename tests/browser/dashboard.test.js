// The dashboard in Debian's headless chromium, driven by puppeteer-core.
// Run by tests/browser/test_dashboard.sh, which starts Dovecot and
// `imapmig serve --listen` and passes, in the environment:
//   DASH_URL DASH_TOKEN_FILE DASH_BATCH DASH_SKIPPED_USER DASH_BAD_CSV
//   DASH_SCREENSHOT
// Every step asserts what the page shows; the first failure ends the run
// with exit 1 and a line saying which step, and what the page showed.
'use strict';
const fs = require('fs');
const puppeteer = require('puppeteer-core');

const env = (k) => {
	if (!process.env[k]) {
		console.error(`dashboard.test.js: ${k} is not set (run tests/browser/test_dashboard.sh)`);
		process.exit(2);
	}
	return process.env[k];
};
const URL = env('DASH_URL');
const TOKEN = fs.readFileSync(env('DASH_TOKEN_FILE'), 'utf8').trim();
const BATCH = env('DASH_BATCH');
const SKIPPED_USER = env('DASH_SKIPPED_USER');
const BAD_CSV = env('DASH_BAD_CSV');
const SHOT = env('DASH_SCREENSHOT');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let step = 'start';
const t0 = Date.now();
function log(msg) {
	console.error(`dashboard: ${((Date.now() - t0) / 1000).toFixed(1)}s ${msg}`);
}
class StepError extends Error {}
function check(cond, msg) {
	if (!cond)
		throw new StepError(msg);
}

// Polls fn (in node) until it returns a truthy value.
async function until(what, fn, ms = 20000) {
	const end = Date.now() + ms;
	let last;
	while (Date.now() < end) {
		last = await fn();
		if (last)
			return last;
		await sleep(100);
	}
	throw new StepError(`timed out after ${ms / 1000}s waiting for ${what}`);
}

(async () => {
	const browser = await puppeteer.launch({
		executablePath: CHROMIUM,
		headless: true,
		// root in a container: no user namespaces for the sandbox
		args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run'],
	});
	log('chromium started');
	const page = await browser.newPage();
	const errors = [];
	let navigations = 0;
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('dialog', (d) => { errors.push(`a JavaScript dialog opened: ${d.message()}`); d.dismiss(); });
	page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
	// nothing may load from anywhere but the server itself
	const origin = new globalThis.URL(URL).origin;
	const foreign = [];
	page.on('request', (r) => {
		const u = r.url();
		if (!u.startsWith(origin) && !u.startsWith('data:'))
			foreign.push(u);
	});
	await page.setViewport({ width: 1280, height: 1000 });

	// What the page shows, in one round trip (the machine may be busy).
	const snap = () => page.evaluate((batch) => {
		const tr = document.querySelector(`#batch-rows tr[data-name="${batch}"]`);
		const users = [...document.querySelectorAll('#user-rows tr')].map((r) => ({
			status: r.querySelector('.user-status').textContent,
			folder: r.querySelector('.c-folder').textContent,
			items: r.querySelector('.c-items').textContent,
			mb: r.querySelector('.c-mb').textContent,
			rate: r.querySelector('.c-rate').textContent,
		}));
		return {
			status: tr ? tr.querySelector('.batch-status').textContent : null,
			pct: tr ? Number(tr.querySelector('progress').value) : null,
			users,
			statuses: users.map((u) => u.status).sort().join(' '),
			progress: users.map((u) => `${u.items} ${u.mb}`).join(', '),
			live: users.filter((u) => u.folder && u.rate).length,
		};
	}, BATCH);
	const batchStatus = async () => (await snap()).status;
	const batchPct = async () => (await snap()).pct;
	const userStatuses = async () => (await snap()).statuses;
	const clickAction = (a) => page.click(`#batch-rows tr[data-name="${BATCH}"] button[data-action="${a}"]`);
	const notice = () => page.$eval('#notice', (e) => e.textContent);

	try {
		step = 'sign in with the token';
		await page.goto(URL, { waitUntil: 'domcontentloaded' });
		await page.waitForSelector('#token', { visible: true, timeout: 10000 });
		log('page loaded');
		check(await page.$eval('#app', (e) => e.hidden), 'the app shows before signing in');
		await page.type('#token', 'not-the-token');
		await page.keyboard.press('Enter');
		await page.waitForFunction(() => document.querySelector('#login-error').textContent !== '', { timeout: 10000 });
		check(await page.$eval('#app', (e) => e.hidden), 'a wrong token let the page in');
		await page.type('#token', TOKEN);
		await page.keyboard.press('Enter');
		await page.waitForSelector(`#batch-rows tr[data-name="${BATCH}"]`, { visible: true, timeout: 10000 });
		const cookies = await page.cookies();
		const c = cookies.find((x) => x.httpOnly);
		check(c, `no HttpOnly cookie after signing in (cookies: ${cookies.map((x) => x.name).join(', ') || 'none'})`);
		check(c.sameSite === 'Strict', `the session cookie is SameSite=${c.sameSite}, not Strict`);
		check(!(await page.evaluate(() => document.cookie)).includes(TOKEN), 'the token is readable by scripts');
		check(await page.$eval('#token', (e) => e.value === ''), 'the token stays in the form');
		await page.evaluate(() => { window.__dashboardMarker = 'still the same page'; });
		log(`signed in; batch ${BATCH} is ${await batchStatus()}`);

		step = 'start the batch and watch the progress move';
		await until('the live-events indicator', () => page.$eval('#conn', (e) => e.textContent === 'Live'), 10000);
		await clickAction('start');
		await until('Syncing', async () => (await batchStatus()) === 'Syncing', 10000);
		// progress: the bar, and each user's items and MB
		const seen = new Set();
		let shot = false;
		await until('users syncing with their progress moving', async () => {
			const v = await snap();
			if (v.status !== 'Syncing')
				return false;
			seen.add(`${v.pct} %: ${v.progress}`);
			if (!shot && seen.size >= 2 && v.pct < 80 && v.live > 0 && v.users.some((u) => parseFloat(u.mb) > 0)) {
				// mid-migration: folders and rates are on screen
				await page.screenshot({ path: SHOT, fullPage: true });
				log(`screenshot at ${v.pct} %, ${v.live} user(s) showing folder and rate -> ${SHOT}`);
				shot = true;
			}
			return shot && seen.size >= 3;
		}, 30000);
		// the chart redraws every second, from the same events
		await until('the throughput chart to show a peak', () => page.evaluate(() =>
			/peak [1-9]/.test(document.querySelector('#chart-summary').textContent) &&
			document.querySelector('#chart-line').getAttribute('points').split(' ').length >= 2), 5000);
		log(`progress seen without a reload: ${[...seen].slice(0, 4).join(' / ')}`);

		step = 'stop the batch (confirmation dialog)';
		await clickAction('stop');
		await page.waitForSelector('#confirm[open]', { timeout: 5000 });
		check(await page.$eval('#confirm-force-row', (e) => e.hidden), 'stop offers force');
		// Cancel first: nothing happens
		await page.click('#confirm-cancel');
		await sleep(500);
		const afterCancel = await batchStatus();
		check(afterCancel === 'Syncing', `after Cancel the batch is ${afterCancel}, not Syncing`);
		await clickAction('stop');
		await page.waitForSelector('#confirm[open]', { timeout: 5000 });
		await page.click('#confirm-ok');
		await until('Stopped', async () => (await batchStatus()) === 'Stopped', 15000);
		await until('every user Stopped', async () => /^(Stopped ?)+$/.test(await userStatuses()), 15000);
		const pctStopped = await batchPct();
		check(pctStopped < 100, `the batch was already done when stopped (${pctStopped} %): make it slower`);
		log(`stopped at ${pctStopped} %`);

		step = 'restart the batch and watch it reach Synced';
		await clickAction('start');
		await until('Syncing again', async () => (await batchStatus()) === 'Syncing', 10000);
		const pcts = new Set();
		let better = false;
		await until('Synced', async () => {
			const v = await snap();
			pcts.add(v.pct);
			if (!better && v.status === 'Syncing' && v.pct >= 20 && v.pct < 90 && v.live > 0) {
				// a fuller picture than the first: the bar has moved
				await page.screenshot({ path: SHOT, fullPage: true });
				log(`screenshot again at ${v.pct} % -> ${SHOT}`);
				better = true;
			}
			return v.status === 'Synced';
		}, 40000);
		await until('every user Synced', async () => (await userStatuses()) === 'Synced Synced Synced', 10000);
		await until('100 %', async () => (await batchPct()) === 100, 5000);
		check(pcts.size >= 2, `the progress did not move after the restart: ${[...pcts].join(', ')}`);
		log(`Synced; progress after the restart went ${[...pcts].join(' ')} %`);

		step = "open a user's skipped-item report";
		await page.click(`.report-btn[data-email="${SKIPPED_USER}"]`);
		await page.waitForSelector('#report-rows tr', { visible: true, timeout: 10000 });
		const rep = await page.$$eval('#report-rows tr', (rows) => rows.map((r) =>
			[...r.children].map((td) => td.textContent)));
		check(rep.length === 1, `the report lists ${rep.length} items, want 1: ${JSON.stringify(rep)}`);
		const [folder, subject, sender, , size, reason] = rep[0];
		check(folder === 'Huge', `skipped item's folder: ${folder}`);
		check(subject.includes('<img src=x onerror=alert(1)> Quarterly <b>scans</b>'),
			`the subject is not shown as text: ${subject}`);
		check(await page.$eval('#report-rows', (e) => e.querySelector('img, b') === null),
			'markup from a subject became elements');
		check(sender.includes('mallory@example.org'), `skipped item's sender: ${sender}`);
		check(/KiB|MiB/.test(size), `skipped item's size: ${size}`);
		check(reason !== '', 'no reason given');
		check(await page.evaluate(() => document.activeElement.id === 'report-h'), 'the report did not take the focus');
		log(`report: ${rep[0].join(' | ')}`);

		step = 'sort and filter the users with the keyboard';
		await page.focus('#user-table th[data-key="items"] button');
		await page.keyboard.press('Enter');
		check(await page.$eval('#user-table th[data-key="items"]', (e) => e.getAttribute('aria-sort')) === 'ascending',
			'Enter on the Items header did not sort');
		await page.keyboard.press('Enter');
		check(await page.$eval('#user-table th[data-key="items"]', (e) => e.getAttribute('aria-sort')) === 'descending',
			'a second Enter did not reverse the order');
		const counts = await page.$$eval('#user-rows td.c-items', (t) => t.map((x) => parseInt(x.textContent, 10)));
		check(counts.every((v, i) => i === 0 || counts[i - 1] >= v), `not sorted by items: ${counts}`);
		await page.select('#status-filter', 'Failed');
		check((await page.$$('#user-rows tr')).length === 0, 'the Failed filter shows users');
		await page.select('#status-filter', 'Synced');
		check((await page.$$('#user-rows tr')).length === 3, 'the Synced filter hides users');
		// Shift+Tab from the Items header: the focus ring shows
		await page.focus('#user-table th[data-key="items"] button');
		await page.keyboard.down('Shift');
		await page.keyboard.press('Tab');
		await page.keyboard.up('Shift');
		const focusRing = await page.evaluate(() => {
			const b = document.activeElement;
			const s = getComputedStyle(b);
			return b.closest('th') && b.closest('th').dataset.key === 'folder' &&
				s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
		});
		check(focusRing, 'a focused button shows no focus ring');

		step = 'upload a CSV with an error';
		await page.type('#nb-name', 'Bad');
		await page.type('#nb-source', 'src');
		await page.type('#nb-target', 'md');
		const input = await page.$('#nb-csv');
		await input.uploadFile(BAD_CSV);
		await page.click('#new-form button[type=submit]');
		await page.waitForFunction(() => document.querySelector('#new-errors').textContent !== '', { timeout: 10000 });
		const csvErr = await page.$eval('#new-errors', (e) => e.textContent);
		check(/line 3\b/.test(csvErr) && /line 4\b/.test(csvErr), `the CSV errors do not name lines 3 and 4: ${csvErr}`);
		check(!(await page.$('#batch-rows tr[data-name="Bad"]')), 'a batch Bad appeared');
		log(`CSV error shown: ${csvErr}`);

		step = 'readable at 375 px';
		await page.setViewport({ width: 375, height: 800 });
		await sleep(300);
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
		check(overflow <= 375, `the page is ${overflow} px wide at 375 px`);
		const cardLabel = await page.$eval('#user-rows td.c-items', (e) => getComputedStyle(e, '::before').content);
		check(cardLabel.includes('Items'), `no card labels at 375 px: ${cardLabel}`);
		await page.setViewport({ width: 1280, height: 1000 });

		step = 'no reload, no error, nothing from elsewhere';
		check(navigations === 1, `the page navigated ${navigations} times (a reload?)`);
		check(await page.evaluate(() => window.__dashboardMarker) === 'still the same page', 'the page was reloaded');
		check(errors.length === 0, `errors in the page: ${errors.join('; ')}`);
		check(foreign.length === 0, `requests to elsewhere: ${foreign.join(' ')}`);
		const html = await page.content();
		check(!html.includes(TOKEN), 'the token is in the page');
		log('all steps passed');
		await browser.close();
		process.exit(0);
	} catch (e) {
		let state = '';
		try {
			state = `batch ${await batchStatus()} at ${await batchPct()} %, users [${await userStatuses()}],` +
				` notice "${await notice()}"`;
			await page.screenshot({ path: SHOT.replace(/\.png$/, '') + '.failed.png', fullPage: true });
		} catch (_) { /* the page is gone */ }
		console.error(`FAIL: dashboard step "${step}": ${e.message}${state ? `\n  the page showed: ${state}` : ''}`);
		if (errors.length)
			console.error(`  page errors: ${errors.join('; ')}`);
		await browser.close();
		process.exit(1);
	}
})();
