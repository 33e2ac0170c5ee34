/* imapmig dashboard.  Plain JavaScript, no framework, nothing from
 * elsewhere.  Every string that comes from the server goes into the page
 * with textContent (a subject or an error may hold markup); the API token
 * is only ever sent once, to the login route, which answers with an
 * HttpOnly cookie. */
'use strict';
(function () {
	var API = '/api/v1';
	var HOUR = 3600;
	var USER_STATUSES = ['Queued', 'Validating', 'Syncing', 'Synced',
		'IncrementalSyncing', 'IncrementalSynced', 'IncrementalFailed',
		'Stopping', 'Stopped', 'Completing', 'Completed',
		'CompletedWithWarnings', 'Failed', 'Removing'];
	var ACTIVE = { Syncing: 1, IncrementalSyncing: 1, Validating: 1,
		Completing: 1, Stopping: 1 };

	var S = {
		batches: [],		/* batch JSON, in the server's order */
		users: {},		/* email -> user JSON (merged with events) */
		live: {},		/* email -> {folder, rate, t0, items0, t, items} */
		selected: null,		/* batch name whose users are shown */
		sortKey: 'email',
		sortDir: 1,
		filter: '',
		samples: [],		/* [seconds, bytes a second], last hour */
		es: null,
		esRetry: 0,
		started: false,
		reportEmail: null
	};

	function $(id) { return document.getElementById(id); }

	/* el('td', {className: 'x'}, 'text' | node | [..]): text is always
	 * set as textContent. */
	function el(tag, props, kids) {
		var e = document.createElement(tag), k;
		for (k in props || {}) {
			if (k === 'dataset' || k === 'attrs') {
				var d;
				for (d in props[k]) {
					if (k === 'dataset')
						e.dataset[d] = props[k][d];
					else
						e.setAttribute(d, props[k][d]);
				}
			} else {
				e[k] = props[k];
			}
		}
		append(e, kids);
		return e;
	}
	function append(e, kids) {
		if (kids === undefined || kids === null)
			return;
		if (!Array.isArray(kids))
			kids = [kids];
		kids.forEach(function (c) {
			if (c === null || c === undefined)
				return;
			if (typeof c === 'string' || typeof c === 'number')
				e.appendChild(document.createTextNode(String(c)));
			else
				e.appendChild(c);
		});
	}
	function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
	function num(v) { return typeof v === 'number' && isFinite(v) ? v : 0; }
	function str(v) { return v === null || v === undefined ? '' : String(v); }

	function fmtBytes(b) {
		b = num(b);
		if (b >= 1073741824) return (b / 1073741824).toFixed(2) + ' GiB';
		if (b >= 1048576) return (b / 1048576).toFixed(1) + ' MiB';
		if (b >= 1024) return (b / 1024).toFixed(1) + ' KiB';
		return Math.round(b) + ' B';
	}
	function fmtMB(b) { return (num(b) / 1048576).toFixed(1); }
	function fmtRate(r) { return r > 0 ? fmtBytes(r) + '/s' : ''; }
	function fmtSecs(s) {
		if (!(s >= 0) || !isFinite(s)) return '';
		s = Math.round(s);
		var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
		var two = function (n) { return (n < 10 ? '0' : '') + n; };
		return (h ? h + ':' + two(m) : m) + ':' + two(x);
	}
	function now() { return Date.now() / 1000; }
	function statusClass(s) { return 'status s-' + str(s).toLowerCase(); }

	/* ---- the API ---- */

	function ApiError(status, msg, body) {
		this.status = status;
		this.message = msg;
		this.body = body;
	}

	/* Cookie authentication; the custom header is what tells the server
	 * a state change comes from this page and not from another site. */
	function api(method, path, body) {
		var opt = { method: method, credentials: 'same-origin',
			headers: { 'X-Imapmig': '1', 'Accept': 'application/json' } };
		if (body !== undefined) {
			opt.headers['Content-Type'] = 'application/json';
			opt.body = JSON.stringify(body);
		}
		return fetch(path, opt).then(function (r) {
			return r.text().then(function (t) {
				var j = null;
				try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
				if (!r.ok) {
					var msg = j && j.error ? String(j.error)
						: (r.status + ' ' + r.statusText);
					if (r.status === 401 && S.started && path !== API + '/login')
						showLogin('Your session ended: sign in again.');
					throw new ApiError(r.status, msg, j);
				}
				return j;
			});
		});
	}

	function notice(msg, bad) {
		var n = $('notice');
		n.textContent = msg;
		n.className = bad ? 'notice bad' : 'notice';
	}

	/* ---- sign in ---- */

	function showLogin(msg) {
		stopEvents();
		S.started = false;
		$('app').hidden = true;
		$('logout').hidden = true;
		$('login').hidden = false;
		$('login-error').textContent = msg || '';
		setConn('Not signed in', '');
		$('token').focus();
	}

	function onLogin(ev) {
		ev.preventDefault();
		var t = $('token');
		var token = t.value.trim();
		if (!token) {
			$('login-error').textContent = 'Give the API token.';
			return;
		}
		$('login-error').textContent = '';
		api('POST', API + '/login', { token: token }).then(function () {
			t.value = '';
			start();
		}, function (e) {
			t.value = '';
			$('login-error').textContent = e.status === 401 || e.status === 403
				? 'That token is not the one of this server (' + e.message + ').'
				: 'Sign-in failed: ' + e.message;
			t.focus();
		});
	}

	/* ---- loading ---- */

	function start() {
		return loadAll().then(function () {
			$('login').hidden = true;
			$('app').hidden = false;
			$('logout').hidden = false;
			if (!S.started) {
				S.started = true;
				startEvents();
				loadEndpoints();
			}
		}, function (e) {
			if (e.status === 401)
				showLogin('The server did not take the session: sign in again.');
			else if ($('app').hidden)
				$('login-error').textContent = 'Could not load the batches: ' + e.message;
			else
				notice('Could not load the batches: ' + e.message, true);
		});
	}

	function loadAll() {
		return api('GET', API + '/batches').then(function (list) {
			S.batches = Array.isArray(list) ? list : [];
			if (S.selected && !findBatch(S.selected))
				S.selected = null;
			if (!S.selected && S.batches.length)
				S.selected = S.batches[0].name;
			return Promise.all(S.batches.map(function (b) {
				return loadUsers(b.name);
			}));
		}).then(function () {
			renderBatches();
			renderUsers();
		});
	}

	function loadUsers(name) {
		return api('GET', API + '/batches/' + encodeURIComponent(name) + '/users')
			.then(function (list) {
				/* forget users of this batch, then take the list */
				Object.keys(S.users).forEach(function (k) {
					if (S.users[k].batch === name)
						delete S.users[k];
				});
				(Array.isArray(list) ? list : []).forEach(function (u) {
					if (!u.batch)
						u.batch = name;
					S.users[u.email] = u;
				});
			}, function (e) {
				if (e.status === 401)
					throw e;
			});
	}

	function refreshBatch(name) {
		return api('GET', API + '/batches/' + encodeURIComponent(name)).then(function (b) {
			var i;
			for (i = 0; i < S.batches.length; i++)
				if (S.batches[i].name === name)
					S.batches[i] = b;
			if (i === S.batches.length && !findBatch(name))
				S.batches.push(b);
			renderBatches();
		}, function (e) {
			if (e.status === 404)
				loadAll();
		});
	}

	/* Many status changes at once (a batch of 500 users finishing)
	 * become one request per batch. */
	var pendingBatch = {}, pendingTimer = null;
	function refreshBatchSoon(name) {
		if (!name)
			return;
		pendingBatch[name] = 1;
		if (pendingTimer)
			return;
		pendingTimer = setTimeout(function () {
			var names = Object.keys(pendingBatch);
			pendingBatch = {};
			pendingTimer = null;
			names.forEach(refreshBatch);
		}, 250);
	}

	function loadEndpoints() {
		api('GET', API + '/endpoints').then(function (list) {
			var dl = $('endpoint-list');
			clear(dl);
			(Array.isArray(list) ? list : []).forEach(function (e) {
				dl.appendChild(el('option', { value: str(e.name),
					label: str(e.name) + ' (' + str(e.type || 'imap') + ')' }));
			});
		}, function () { /* the form still takes typed names */ });
	}

	function findBatch(name) {
		for (var i = 0; i < S.batches.length; i++)
			if (S.batches[i].name === name)
				return S.batches[i];
		return null;
	}

	/* ---- live events ---- */

	function setConn(text, cls) {
		var c = $('conn');
		c.textContent = text;
		c.className = 'conn ' + cls;
	}

	function startEvents() {
		stopEvents();
		if (typeof EventSource === 'undefined') {
			setConn('No live updates in this browser', 'down');
			return;
		}
		var es = new EventSource(API + '/events');
		S.es = es;
		es.onopen = function () {
			setConn('Live', 'live');
			/* after a reconnect of our own (not the browser's, which
			 * sends Last-Event-ID), the lists may be stale */
			if (S.esRetry > 0 || S.esLost)
				loadAll();
			S.esRetry = 0;
			S.esLost = false;
		};
		es.onerror = function () {
			if (es.readyState === EventSource.CLOSED) {
				/* the server refused the stream (or sent an
				 * error): the browser gives up, we do not */
				setConn('Reconnecting\u2026', 'down');
				S.es = null;
				var wait = Math.min(15, 1 + S.esRetry * 2);
				S.esRetry++;
				setTimeout(function () {
					if (!S.started || S.es)
						return;
					/* refresh the lists meanwhile (a 401 here
					 * means the cookie went: ask again) */
					loadAll().then(function () {
						startEvents();
					}, function () {
						if (S.started)
							startEvents();
					});
				}, wait * 1000);
			} else {
				/* the browser reconnects, with Last-Event-ID;
				 * a restarted serve has new ids: reload then */
				S.esLost = true;
				setConn('Reconnecting\u2026', 'down');
			}
		};
		es.addEventListener('status', function (m) { onStatus(parse(m)); });
		es.addEventListener('progress', function (m) { onProgress(parse(m)); });
		es.addEventListener('batch', function (m) { onBatch(parse(m)); });
		es.addEventListener('reset', function () { loadAll(); });
		es.addEventListener('removed', function (m) { onRemoved(parse(m)); });
		es.onmessage = function (m) {
			var d = parse(m);
			if (d && d.type === 'progress') onProgress(d);
			else if (d && d.email && d.status) onStatus(d);
			else if (d && d.name && d.total_count !== undefined) onBatch(d);
		};
	}

	function stopEvents() {
		if (S.es) {
			S.es.close();
			S.es = null;
		}
	}

	function parse(m) {
		try { return JSON.parse(m.data); } catch (e) { return null; }
	}

	function onBatch(b) {
		if (!b || !b.name)
			return;
		var i;
		for (i = 0; i < S.batches.length; i++)
			if (S.batches[i].name === b.name) {
				S.batches[i] = b;
				break;
			}
		if (i === S.batches.length)
			S.batches.push(b);
		renderBatches();
	}

	function onRemoved(d) {
		if (!d)
			return;
		if (d.email) {
			delete S.users[d.email];
			delete S.live[d.email];
			renderUsersSoon();
		}
		if (d.batch) {
			S.batches = S.batches.filter(function (b) { return b.name !== d.batch; });
			Object.keys(S.users).forEach(function (k) {
				if (S.users[k].batch === d.batch)
					delete S.users[k];
			});
			if (S.selected === d.batch)
				S.selected = S.batches.length ? S.batches[0].name : null;
			renderBatches();
			renderUsers();
		}
	}

	function onStatus(u) {
		if (Array.isArray(u)) {
			u.forEach(onStatus);
			return;
		}
		if (!u || !u.email)
			return;
		var old = S.users[u.email] || {};
		var merged = Object.assign({}, old, u);
		/* while it syncs, the stored counts lag the live ones: the
		 * bar does not step back */
		if (ACTIVE[merged.status] && S.live[u.email]) {
			merged.items_synced = Math.max(num(old.items_synced), num(u.items_synced));
			merged.bytes_synced = Math.max(num(old.bytes_synced), num(u.bytes_synced));
		}
		S.users[u.email] = merged;
		if (!ACTIVE[merged.status])
			delete S.live[u.email];
		refreshBatchSoon(merged.batch || old.batch);
		if (merged.batch && !findBatch(merged.batch))
			loadAll();
		renderUsersSoon();
	}

	/* A progress event: one job, a list of them, or {jobs: [...]}; each
	 * job names its user and may give folder, items, bytes and rate. */
	function onProgress(d) {
		if (!d)
			return;
		var jobs = Array.isArray(d) ? d : Array.isArray(d.jobs) ? d.jobs
			: Array.isArray(d.users) ? d.users : [d];
		var t = now(), total = 0, any = false, batches = {};
		jobs.forEach(function (j) {
			if (!j || !j.email)
				return;
			var u = S.users[j.email];
			/* a job's last tick may come after the status event
			 * that ended it: a settled user keeps what the server
			 * said */
			if (u && !ACTIVE[u.status] && u.status !== 'Queued')
				return;
			var lv = S.live[j.email];
			/* items: copied so far, this run and before; bytes:
			 * sent this run (added to what the user had) */
			var items = j.items_synced !== undefined ? j.items_synced : j.items;
			var bytes = j.bytes;
			if (!lv)
				lv = S.live[j.email] = { t0: t, items0: num(items), bytes0: num(bytes),
					base: u ? num(u.bytes_synced) : 0 };
			if (j.folder !== undefined)
				lv.folder = j.folder;
			lv.t = t;
			lv.items = num(items);
			lv.bytes = num(bytes);
			if (typeof j.rate === 'number')
				lv.rate = j.rate;
			else if (t > lv.t0)
				lv.rate = (lv.bytes - lv.bytes0) / (t - lv.t0);
			if (typeof j.eta === 'number')
				lv.eta = j.eta;
			total += num(lv.rate);
			any = true;
			if (u) {
				if (typeof items === 'number')
					u.items_synced = items;
				if (typeof j.bytes_synced === 'number')
					u.bytes_synced = j.bytes_synced;
				else if (typeof bytes === 'number')
					u.bytes_synced = Math.max(num(u.bytes_synced), lv.base + bytes);
				if (typeof j.items_total === 'number')
					u.items_total = j.items_total;
				if (typeof j.items_skipped === 'number')
					u.items_skipped = j.items_skipped;
				if (j.status)
					u.status = j.status;
				batches[u.batch] = 1;
			}
		});
		if (!any)
			return;
		if (typeof d.rate === 'number' && !Array.isArray(d) && d.jobs)
			total = d.rate;
		addSample(t, total);
		renderBatchesSoon();
		renderUsersSoon();
	}

	/* A batch still Syncing (Stopping, ...) whose users have all settled
	 * is about to change its own status, which the scheduler writes after
	 * the users' last event: look again every other second until it has. */
	var TRANSIENT = /^(Starting|Syncing|IncrementalSyncing|Stopping|Completing|Removing)$/;
	var settleTick = 0;
	function settleBatches() {
		if (++settleTick % 2)
			return;
		S.batches.forEach(function (b) {
			if (!TRANSIENT.test(str(b.status)))
				return;
			var n = 0, busy = false;
			Object.keys(S.users).forEach(function (k) {
				var u = S.users[k];
				if (u.batch !== b.name)
					return;
				n++;
				if (ACTIVE[u.status] || u.status === 'Queued')
					busy = true;
			});
			if (n && !busy)
				refreshBatch(b.name);
		});
	}

	/* ---- the throughput chart ---- */

	function addSample(t, rate) {
		var s = S.samples, sec = Math.floor(t);
		if (s.length && s[s.length - 1][0] === sec)
			s[s.length - 1][1] = rate;
		else
			s.push([sec, rate]);
		while (s.length && s[0][0] < sec - HOUR)
			s.shift();
	}

	function renderChart() {
		var s = S.samples, t = Math.floor(now());
		while (s.length && s[0][0] < t - HOUR)
			s.shift();
		if (!s.length)
			return;
		/* seconds without a progress event carried nothing */
		var pts = [], i, prev = null;
		for (i = 0; i < s.length; i++) {
			if (prev && s[i][0] - prev[0] > 3) {
				pts.push([prev[0] + 1, 0]);
				pts.push([s[i][0] - 1, 0]);
			}
			pts.push(s[i]);
			prev = s[i];
		}
		if (t - prev[0] > 3) {
			pts.push([prev[0] + 1, 0]);
			pts.push([t, 0]);
		}
		/* the axis spans the last hour, or less while there is less */
		var from = Math.max(t - HOUR, s[0][0] - 5), span = Math.max(60, t - from);
		from = t - span;
		var max = 0;
		pts.forEach(function (p) { if (p[1] > max) max = p[1]; });
		var top = max > 0 ? max * 1.1 : 1;
		var line = pts.map(function (p) {
			return ((p[0] - from) / span * 600).toFixed(1) + ',' +
				(160 - p[1] / top * 158).toFixed(1);
		});
		$('chart-line').setAttribute('points', line.join(' '));
		$('chart-area').setAttribute('points',
			((pts[0][0] - from) / span * 600).toFixed(1) + ',160 ' + line.join(' ') +
			' ' + ((pts[pts.length - 1][0] - from) / span * 600).toFixed(1) + ',160');
		var cur = pts[pts.length - 1][1], sum = 0;
		s.forEach(function (p) { sum += p[1]; });
		$('chart-from').textContent = Math.round(span / 60) + ' min ago';
		$('chart-max').textContent = 'peak ' + (fmtRate(max) || '0 B/s');
		$('chart-summary').textContent = 'Now ' + (fmtRate(cur) || '0 B/s') +
			', peak ' + (fmtRate(max) || '0 B/s') + ', about ' +
			fmtBytes(sum) + ' copied over the last ' + Math.round(span / 60) + ' min.';
	}

	/* ---- batches ---- */

	var ACTIONS = [
		{ id: 'start', label: 'Start', path: 'start' },
		{ id: 'stop', label: 'Stop', path: 'stop', confirm: 'Stop batch %s? Its users stop after the message being copied; Start resumes them.' },
		{ id: 'complete', label: 'Complete', path: 'complete', confirm: 'Complete batch %s? Each synced user gets one last incremental sync, then the batch syncs no more.' },
		{ id: 'sync-now', label: 'Sync now', path: 'sync-now' },
		{ id: 'remove', label: 'Remove', confirm: 'Remove batch %s and its users from the state? Mail already on the target stays.', force: true }
	];

	/* Progress of a batch: items copied of the items counted, over its
	 * users; users done of all while nothing is counted yet. */
	function batchProgress(b) {
		var synced = 0, total = 0, n = 0, done = 0;
		Object.keys(S.users).forEach(function (k) {
			var u = S.users[k];
			if (u.batch !== b.name)
				return;
			n++;
			var it = num(u.items_total), is = num(u.items_synced) + num(u.items_skipped);
			total += it;
			synced += Math.min(is, it);
			if (/^(Synced|IncrementalSynced|Completed|CompletedWithWarnings|Failed|IncrementalSyncing|IncrementalFailed)$/.test(u.status))
				done++;
		});
		if (total > 0)
			return Math.floor(100 * synced / total);
		var tot = num(b.total_count) || n;
		if (!tot)
			return 0;
		return Math.floor(100 * (n ? done : num(b.synced_count) + num(b.failed_count)) / tot);
	}

	function setText(e, t) {
		t = String(t);
		if (e.textContent !== t)
			e.textContent = t;
	}

	/* Rows are kept and updated in place, keyed by name: a button the
	 * user is pressing or has focused stays the same element. */
	function batchRow(b) {
		var acts = el('div', { className: 'actions' });
		ACTIONS.forEach(function (a) {
			acts.appendChild(el('button', {
				type: 'button',
				className: a.id === 'remove' ? 'danger' : '',
				dataset: { action: a.id, batch: b.name },
				attrs: { 'aria-label': a.label + ' batch ' + b.name }
			}, a.label));
		});
		var name = el('button', { type: 'button', className: 'link',
			dataset: { select: b.name },
			attrs: { 'aria-label': 'Show the users of batch ' + b.name } }, b.name);
		var tr = el('tr', { dataset: { name: b.name } }, [
			el('td', { dataset: { label: 'Batch' } }, [name,
				el('div', { className: 'muted endpoints' })]),
			el('td', { dataset: { label: 'Status' } },
				el('span', { className: 'batch-status' })),
			el('td', { dataset: { label: 'Users' } }, el('div', { className: 'counts' })),
			el('td', { dataset: { label: 'Progress' } }, el('div', { className: 'bar' }, [
				el('progress', { max: 100, value: 0,
					attrs: { 'aria-label': 'Progress of batch ' + b.name } }),
				el('span', { className: 'pct' })])),
			el('td', { dataset: { label: 'Actions' } }, acts)
		]);
		return tr;
	}

	function renderBatches() {
		var tb = $('batch-rows'), have = {}, i;
		for (i = 0; i < tb.children.length; i++)
			have[tb.children[i].dataset.name] = tb.children[i];
		$('batches-empty').hidden = S.batches.length > 0;
		var want = {};
		S.batches.forEach(function (b, idx) {
			want[b.name] = 1;
			var tr = have[b.name];
			if (!tr) {
				tr = batchRow(b);
				tb.insertBefore(tr, tb.children[idx] || null);
			} else if (tb.children[idx] !== tr) {
				tb.insertBefore(tr, tb.children[idx] || null);
			}
			var pct = batchProgress(b);
			tr.className = S.selected === b.name ? 'selected' : '';
			tr.querySelector('[data-select]').setAttribute('aria-pressed',
				S.selected === b.name ? 'true' : 'false');
			setText(tr.querySelector('.endpoints'), str(b.source_endpoint) +
				(b.target_endpoint ? ' \u2192 ' + b.target_endpoint : ''));
			var st = tr.querySelector('.batch-status');
			setText(st, str(b.status));
			st.className = statusClass(b.status) + ' batch-status';
			var counts = tr.querySelector('.counts');
			var parts = [];
			[['total', b.total_count], ['syncing', b.syncing_count],
			 ['queued', b.queued_count], ['synced', b.synced_count],
			 ['failed', b.failed_count], ['stopped', b.stopped_count]].forEach(function (c) {
				if (c[1] !== undefined && (c[0] === 'total' || c[1] > 0))
					parts.push([c[0], num(c[1]) + ' ' + c[0]]);
			});
			var sig = parts.map(function (p) { return p[1]; }).join('|');
			if (counts.dataset.sig !== sig) {
				counts.dataset.sig = sig;
				clear(counts);
				parts.forEach(function (p) {
					counts.appendChild(el('span', { className: 'cnt-' + p[0] }, p[1]));
				});
			}
			var pr = tr.querySelector('progress');
			if (Number(pr.value) !== pct)
				pr.value = pct;
			setText(tr.querySelector('.pct'), pct + ' %');
		});
		Object.keys(have).forEach(function (n) {
			if (!want[n])
				tb.removeChild(have[n]);
		});
		$('users').hidden = !S.selected;
	}

	function cssEsc(s) {
		return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&');
	}

	function onBatchClick(ev) {
		var btn = ev.target.closest('button');
		if (!btn)
			return;
		if (btn.dataset.select) {
			S.selected = btn.dataset.select;
			renderBatches();
			renderUsers();
			return;
		}
		var a = null, name = btn.dataset.batch;
		ACTIONS.forEach(function (x) { if (x.id === btn.dataset.action) a = x; });
		if (!a || !name)
			return;
		if (!a.confirm) {
			runAction(a, name, false);
			return;
		}
		confirmDialog(a.confirm.replace('%s', name), !!a.force, function (force) {
			runAction(a, name, force);
		}, btn);
	}

	function runAction(a, name, force) {
		var p = API + '/batches/' + encodeURIComponent(name);
		var req = a.id === 'remove'
			? api('DELETE', p + (force ? '?force=1' : ''))
			: api('POST', p + '/' + a.path);
		notice(a.label + ' ' + name + '\u2026');
		req.then(function () {
			notice(a.id === 'remove' ? 'Batch ' + name + ' removed (mail on the target stays).'
				: a.label + ': done for batch ' + name + '.');
			if (a.id === 'remove') {
				if (S.selected === name)
					S.selected = null;
				loadAll();
			} else {
				refreshBatch(name);
				loadUsers(name).then(renderUsers);
			}
		}, function (e) {
			notice(a.label + ' ' + name + ': ' + e.message, true);
		});
	}

	function confirmDialog(text, withForce, ok, opener) {
		var d = $('confirm');
		$('confirm-text').textContent = text;
		$('confirm-force-row').hidden = !withForce;
		$('confirm-force').checked = false;
		$('confirm-ok').textContent = withForce ? 'Remove' : 'OK';
		d.returnValue = '';
		d.onclose = function () {
			d.onclose = null;
			if (d.returnValue === 'ok')
				ok($('confirm-force').checked);
			if (opener && document.body.contains(opener))
				opener.focus();
		};
		d.showModal();
		$('confirm-cancel').focus();
	}

	/* ---- users ---- */

	function userRow(u) {
		var lv = S.live[u.email] || null;
		var active = ACTIVE[u.status] && lv;
		var rate = active ? num(lv.rate) : 0;
		var eta = null;
		if (active) {
			if (typeof lv.eta === 'number') {
				eta = lv.eta;
			} else if (lv.t > lv.t0 && lv.items > lv.items0 && num(u.items_total) > 0) {
				var ir = (lv.items - lv.items0) / (lv.t - lv.t0);
				eta = Math.max(0, (num(u.items_total) - num(u.items_synced) - num(u.items_skipped)) / ir);
			}
		}
		return { u: u, email: str(u.email), status: str(u.status),
			folder: active ? str(lv.folder) : '', items: num(u.items_synced),
			bytes: num(u.bytes_synced), rate: rate, eta: eta === null ? Infinity : eta,
			etaText: eta === null ? '' : fmtSecs(eta), error: str(u.error) };
	}

	var USER_CELLS = [
		['email', 'User'], ['status', 'Status'], ['folder', 'Folder'],
		['items', 'Items', 'num'], ['mb', 'MB', 'num'], ['rate', 'Rate', 'num'],
		['eta', 'ETA', 'num'], ['err', 'Last error']
	];

	function userTr(email) {
		var tr = el('tr', { dataset: { email: email } });
		USER_CELLS.forEach(function (c) {
			tr.appendChild(el('td', { className: (c[2] ? c[2] + ' ' : '') + 'c-' + c[0],
				dataset: { label: c[1] } },
				c[0] === 'status' ? el('span', { className: 'user-status' }) : null));
		});
		tr.appendChild(el('td', { dataset: { label: 'Report' } },
			el('button', { type: 'button', className: 'report-btn',
				dataset: { email: email },
				attrs: { 'aria-label': 'Skipped items of ' + email } })));
		return tr;
	}

	function renderUsers() {
		renderUsersTimer = null;
		var name = S.selected;
		$('users').hidden = !name;
		if (!name)
			return;
		setText($('users-h'), 'Users of ' + name);
		var all = [], statuses = {};
		Object.keys(S.users).forEach(function (k) {
			var u = S.users[k];
			if (u.batch === name) {
				all.push(userRow(u));
				statuses[u.status] = (statuses[u.status] || 0) + 1;
			}
		});
		/* the filter lists every status, with how many are in each;
		 * rebuilt only when a count changed (an open list stays open) */
		var sel = $('status-filter');
		var opts = [['', 'All (' + all.length + ')']];
		USER_STATUSES.concat(Object.keys(statuses).filter(function (s) {
			return USER_STATUSES.indexOf(s) < 0;
		})).forEach(function (s) {
			opts.push([s, s + ' (' + (statuses[s] || 0) + ')']);
		});
		var sig = opts.map(function (o) { return o[1]; }).join('|');
		if (sel.dataset.sig !== sig) {
			var keep = sel.value;
			sel.dataset.sig = sig;
			clear(sel);
			opts.forEach(function (o) {
				sel.appendChild(el('option', { value: o[0] }, o[1]));
			});
			sel.value = keep;
		}
		S.filter = sel.value;
		var rows = all.filter(function (r) { return !S.filter || r.status === S.filter; });
		var k = S.sortKey, dir = S.sortDir;
		rows.sort(function (a, b) {
			var x = a[k], y = b[k];
			var c = typeof x === 'number' ? (x === y ? 0 : x < y ? -1 : 1)
				: x.localeCompare(y);
			return c * dir || a.email.localeCompare(b.email);
		});
		document.querySelectorAll('#user-table th[data-key]').forEach(function (th) {
			if (th.dataset.key === k)
				th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
			else
				th.removeAttribute('aria-sort');
		});
		setText($('users-count'), rows.length === all.length ? all.length + ' users'
			: rows.length + ' of ' + all.length + ' users');
		var tb = $('user-rows'), have = {}, want = {}, i;
		for (i = 0; i < tb.children.length; i++)
			have[tb.children[i].dataset.email] = tb.children[i];
		rows.forEach(function (r, idx) {
			var u = r.u, tr = have[r.email];
			want[r.email] = 1;
			if (!tr)
				tr = userTr(r.email);
			if (tb.children[idx] !== tr)
				tb.insertBefore(tr, tb.children[idx] || null);
			var c = tr.children;
			setText(c[0], r.email);
			setText(c[1].firstChild, r.status);
			c[1].firstChild.className = statusClass(r.status) + ' user-status';
			setText(c[2], r.folder);
			setText(c[3], num(u.items_synced) + (num(u.items_total) ? ' / ' + num(u.items_total) : ''));
			setText(c[4], fmtMB(r.bytes));
			setText(c[5], fmtRate(r.rate));
			setText(c[6], r.etaText);
			setText(c[7], r.error);
			setText(c[8].firstChild, 'Skipped (' + num(u.items_skipped) + ')');
		});
		Object.keys(have).forEach(function (e) {
			if (!want[e])
				tb.removeChild(have[e]);
		});
	}

	/* Progress comes every second per job: draw at most every 250 ms. */
	var renderUsersTimer = null, renderBatchesTimer = null;
	function renderUsersSoon() {
		if (!renderUsersTimer)
			renderUsersTimer = setTimeout(renderUsers, 250);
	}
	function renderBatchesSoon() {
		if (!renderBatchesTimer)
			renderBatchesTimer = setTimeout(function () {
				renderBatchesTimer = null;
				renderBatches();
			}, 250);
	}

	function onSort(ev) {
		var btn = ev.target.closest('button.sort');
		if (!btn)
			return;
		var k = btn.parentNode.dataset.key;
		if (S.sortKey === k)
			S.sortDir = -S.sortDir;
		else {
			S.sortKey = k;
			S.sortDir = 1;
		}
		renderUsers();
	}

	/* ---- the skipped-item report ---- */

	function openReport(email) {
		S.reportEmail = email;
		var sec = $('report');
		$('report-h').textContent = 'Skipped items of ' + email;
		$('report-summary').textContent = 'Loading\u2026';
		clear($('report-rows'));
		sec.hidden = false;
		$('report-h').focus();
		api('GET', API + '/users/' + encodeURIComponent(email)).then(function (u) {
			if (S.reportEmail !== email)
				return;
			var list = u && Array.isArray(u.skipped_items) ? u.skipped_items : null;
			var tb = $('report-rows');
			if (!list) {
				$('report-summary').textContent = num(u && u.items_skipped) +
					' item(s) skipped; the server sent no list of them.';
				return;
			}
			$('report-summary').textContent = list.length === 0 ? 'Nothing skipped.'
				: list.length + ' item(s) skipped, not copied to the target.';
			list.forEach(function (s) {
				tb.appendChild(el('tr', {}, [
					el('td', { dataset: { label: 'Folder' } }, str(s.folder)),
					el('td', { className: 'subject', dataset: { label: 'Subject' } }, str(s.subject)),
					el('td', { dataset: { label: 'Sender' } }, str(s.sender)),
					el('td', { dataset: { label: 'Date' } }, str(s.date)),
					el('td', { className: 'num', dataset: { label: 'Size' } }, fmtBytes(s.size)),
					el('td', { className: 'reason', dataset: { label: 'Reason' } }, str(s.reason))
				]));
			});
		}, function (e) {
			$('report-summary').textContent = 'Could not load the report: ' + e.message;
		});
	}

	function closeReport() {
		var email = S.reportEmail;
		S.reportEmail = null;
		$('report').hidden = true;
		var b = email && document.querySelector('.report-btn[data-email="' + cssEsc(email) + '"]');
		if (b)
			b.focus();
	}

	/* ---- a new batch from a CSV file ---- */

	function onNewBatch(ev) {
		ev.preventDefault();
		var f = $('new-form'), out = $('new-errors');
		clear(out);
		var name = $('nb-name').value.trim(), src = $('nb-source').value.trim();
		var file = $('nb-csv').files[0];
		var missing = [];
		if (!name) missing.push('a name');
		if (!src) missing.push('a source endpoint');
		if (!file) missing.push('a CSV file');
		if (missing.length) {
			out.textContent = 'Give ' + missing.join(', ') + '.';
			return;
		}
		var body = { name: name, source_endpoint: src, csv_name: file.name };
		var tgt = $('nb-target').value.trim();
		if (tgt)
			body.target_endpoint = tgt;
		[['nb-maxsize', 'max_message_size'], ['nb-rate', 'max_bytes_per_second'],
		 ['nb-exclude', 'exclude_folders']].forEach(function (p) {
			var v = $(p[0]).value.trim();
			if (v)
				body[p[1]] = /^[0-9]+$/.test(v) && p[1] !== 'exclude_folders' ? Number(v) : v;
		});
		if ($('nb-autostart').checked)
			body.autostart = true;
		var submit = f.querySelector('button[type=submit]');
		submit.disabled = true;
		file.text().then(function (text) {
			body.csv = text;
			return api('POST', API + '/batches', body);
		}).then(function () {
			f.reset();
			notice('Batch ' + name + ' created' + (body.autostart ? ' and started.' : '.'));
			S.selected = name;
			return loadAll();
		}, function (e) {
			/* the CLI's words, one row each, "FILE:N: why" shown
			 * as "line N: why" */
			var lines = [];
			if (e.body && Array.isArray(e.body.errors))
				e.body.errors.forEach(function (x) {
					x = typeof x === 'string' ? x : x && x.line !== undefined
						? 'line ' + x.line + ': ' + str(x.error || x.message)
						: str(x && (x.error || x.message));
					if (x)
						lines.push(x);
				});
			if (!lines.length || lines.indexOf(e.message) < 0 && !/rows with errors/.test(e.message))
				lines.unshift(e.message);
			var ul = el('ul', {});
			lines.forEach(function (l) {
				var m = /^(.*?):([0-9]+): (.*)$/.exec(l);
				ul.appendChild(el('li', {}, m ? 'line ' + m[2] + ': ' + m[3] : l));
			});
			clear(out);
			append(out, [el('p', {}, 'The batch was not created' +
				(e.status === 400 ? ' (nothing was imported):' : ':')), ul]);
			out.focus();
		}).then(function () { submit.disabled = false; });
	}

	/* ---- wiring ---- */

	function init() {
		$('login-form').addEventListener('submit', onLogin);
		$('batch-rows').addEventListener('click', onBatchClick);
		$('user-table').querySelector('thead').addEventListener('click', onSort);
		$('user-rows').addEventListener('click', function (ev) {
			var b = ev.target.closest('button.report-btn');
			if (b)
				openReport(b.dataset.email);
		});
		$('status-filter').addEventListener('change', function () {
			S.filter = this.value;
			renderUsers();
		});
		$('report-close').addEventListener('click', closeReport);
		$('logout').addEventListener('click', function () {
			api('POST', API + '/logout', {}).then(function () {
				showLogin('Signed out.');
			}, function (e) {
				notice('Sign-out failed: ' + e.message, true);
			});
		});
		$('new-form').addEventListener('submit', onNewBatch);
		$('new-errors').tabIndex = -1;
		/* ETAs and the chart move with the clock */
		setInterval(function () {
			if (!S.started)
				return;
			renderChart();
			settleBatches();
		}, 1000);
		/* Signed in already (the cookie)?  Otherwise ask for the token. */
		api('GET', API + '/batches').then(function () {
			start();
		}, function (e) {
			showLogin(e.status === 401 ? '' : 'The server did not answer: ' + e.message);
		});
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', init);
	else
		init();
})();
