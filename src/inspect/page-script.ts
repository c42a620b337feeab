// The inspector page's script: applies the vmactor protocol from the SSE stream to the DOM (no framework, no CDN).
//
// Kept as a string served from the package. It renders at most once per animation frame, so a burst
// of messages costs one DOM update, and only the selected actor's chart and timeline are drawn.

/** `assets/inspector.js`. */
export const PAGE_JS = `
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var q = '?token=' + encodeURIComponent(params.get('token') || '');
  var actors = new Map();
  var selected = params.get('actor');
  var charts = new Map();
  var stats = { received: 0, lastSeq: 0, snapshots: 0, renders: 0 };
  var drawn = { actor: null, chart: null, timeline: 0, states: '', on: new Set() };
  var MAX_TIMELINE = 500;
  // What changed since the last frame: only those list rows and, if selected, that detail are redrawn.
  var dirty = new Set();
  var newActors = false;
  window.vmactorInspector = { stats: stats, actors: actors, select: select };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function actorOf(m) {
    var a = actors.get(m.actorId);
    if (!a) {
      a = { id: m.actorId, machine: m.machine, snapshot: null, devices: [], timeline: [], changes: 0, values: [], snapDirty: true, devDirty: true };
      actors.set(m.actorId, a);
      newActors = true;
    }
    return a;
  }
  function apply(m) {
    stats.received += 1;
    stats.lastSeq = m.seq;
    var a = actorOf(m);
    dirty.add(a.id);
    if (m.type === 'snapshot') {
      a.snapshot = m;
      a.snapDirty = true;
      a.changes += 1;
      stats.snapshots += 1;
      a.values.push(m.phase);
      if (a.values.length > 1000) a.values.shift();
    } else if (m.type === 'event') {
      a.timeline.push(m);
      if (a.timeline.length > MAX_TIMELINE) { a.timeline.shift(); drawn.timeline = -1; }
    } else if (m.type === 'devices') {
      a.devices = Array.isArray(m.devices) ? m.devices : [];
      a.devDirty = true;
    }
    if (!selected && m.machine === 'sandbox') selected = m.actorId;
  }

  var frame = 0;
  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(function () { frame = 0; render(); });
  }
  function select(id) {
    selected = id;
    var u = new URL(location.href);
    u.searchParams.set('actor', id);
    history.replaceState(null, '', u);
    schedule();
  }

  function stopReasonOf(a) {
    var c = a.snapshot && a.snapshot.context;
    return c && typeof c === 'object' && c.stopReason ? String(c.stopReason) : '';
  }
  function listItem(id) {
    var li = el('li', { 'data-actor': id });
    li.appendChild(el('span', { 'class': 'name' }, id));
    li.appendChild(el('span', { 'class': 'phase' }));
    li.addEventListener('click', function () { select(id); });
    return li;
  }
  function renderList(all) {
    var ul = document.getElementById('actors');
    if (newActors) {
      newActors = false;
      all = true;
      Array.from(actors.keys()).sort().forEach(function (id, i) {
        var li = ul.querySelector('li[data-actor="' + CSS.escape(id) + '"]') || listItem(id);
        if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
      });
    }
    (all ? Array.from(actors.keys()) : Array.from(dirty)).forEach(function (id) {
      var a = actors.get(id);
      var li = ul.querySelector('li[data-actor="' + CSS.escape(id) + '"]');
      if (!a || !li) return;
      var phase = a.snapshot ? a.snapshot.phase : '';
      var reason = stopReasonOf(a);
      li.setAttribute('data-phase', phase);
      li.setAttribute('aria-selected', String(id === selected));
      li.querySelector('.phase').textContent = phase + (phase === 'stopped' && reason ? ' (' + reason + ')' : '');
    });
    document.getElementById('counts').textContent = actors.size + ' actors, ' + stats.received + ' messages';
  }

  function loadChart(machine) {
    if (!charts.has(machine)) {
      charts.set(machine, fetch('charts/' + machine + '.svg' + q).then(function (r) {
        if (!r.ok) throw new Error('chart ' + machine + ': ' + r.status);
        return r.text();
      }));
    }
    return charts.get(machine);
  }
  function highlight(a) {
    var states = a.snapshot ? a.snapshot.states : [];
    var key = a.id + '|' + states.join(',');
    if (drawn.states === key) return;
    var svg = document.querySelector('#chart svg');
    if (!svg) return;
    var fresh = drawn.states === '';
    drawn.states = key;
    var on = new Set(states);
    // Only the boxes whose state changed are touched: a step repaints two boxes, not the chart.
    var before = fresh ? new Set() : drawn.on;
    svg.querySelectorAll('g.state').forEach(function (g) {
      var path = g.getAttribute('data-state');
      var want = on.has(path);
      if (fresh || want !== before.has(path)) g.classList.toggle('active', want);
    });
    drawn.on = on;
  }
  function renderChart(a) {
    if (drawn.chart === a.machine) { highlight(a); return; }
    drawn.chart = a.machine;
    drawn.states = '';
    var box = document.getElementById('chart');
    box.setAttribute('data-machine', a.machine);
    loadChart(a.machine).then(function (text) {
      if (drawn.chart !== a.machine) return;
      box.innerHTML = text;
      box.setAttribute('data-loaded', a.machine);
      highlight(actors.get(selected) || a);
    }, function (err) { box.textContent = String(err); });
  }
  function time(t) {
    return new Date(t).toISOString().slice(11, 23);
  }
  function timelineItem(m) {
    var li = el('li', { 'data-kind': m.kind, 'data-seq': String(m.seq), 'data-summary': m.summary });
    li.appendChild(el('time', { datetime: new Date(m.time).toISOString() }, time(m.time)));
    li.appendChild(el('span', { 'class': 'kind' }, m.kind));
    li.appendChild(el('span', { 'class': 'summary' }, m.summary));
    // The event's detail as a tooltip, built on first hover (not for every entry drawn).
    li.addEventListener('mouseenter', function () { if (!li.title) li.title = JSON.stringify(m.detail); }, { once: true });
    return li;
  }
  function renderTimeline(a) {
    var ol = document.getElementById('timeline');
    if (drawn.actor !== a.id || drawn.timeline < 0 || drawn.timeline > a.timeline.length) {
      ol.textContent = '';
      drawn.timeline = 0;
    }
    var follow = ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 4;
    var frag = document.createDocumentFragment();
    for (var i = drawn.timeline; i < a.timeline.length; i++) frag.appendChild(timelineItem(a.timeline[i]));
    ol.appendChild(frag);
    drawn.timeline = a.timeline.length;
    while (ol.children.length > MAX_TIMELINE) ol.removeChild(ol.firstChild);
    if (follow) ol.scrollTop = ol.scrollHeight;
  }
  function placementText(p) {
    if (!p || typeof p !== 'object') return '';
    return Object.keys(p).map(function (k) { return k + '=' + (typeof p[k] === 'object' ? JSON.stringify(p[k]) : p[k]); }).join(' ');
  }
  function renderDevices(a) {
    var body = document.querySelector('#devices tbody');
    body.textContent = '';
    a.devices.forEach(function (d) {
      var tr = el('tr', { 'data-device': String(d.id) });
      [d.id, d.kind || (d.spec && d.spec.kind) || '', d.origin || '', placementText(d.placement)].forEach(function (v) {
        tr.appendChild(el('td', null, String(v === undefined ? '' : v)));
      });
      body.appendChild(tr);
    });
  }
  function opText(o) {
    if (!o || typeof o !== 'object') return String(o);
    var op = o.op || {};
    var dev = op.device && op.device.id ? ' ' + op.device.id : (op.id ? ' ' + op.id : '');
    return (o.id || '') + ': ' + (op.kind || '?') + dev;
  }
  function renderQueue(a) {
    var ol = document.getElementById('queue');
    ol.textContent = '';
    var c = a.snapshot && a.snapshot.context;
    if (!c || typeof c !== 'object') return;
    if (c.currentOperation) ol.appendChild(el('li', { 'data-current': 'true' }, opText(c.currentOperation) + ' (running)'));
    (Array.isArray(c.operationQueue) ? c.operationQueue : []).forEach(function (o) {
      ol.appendChild(el('li', null, opText(o)));
    });
  }
  function render() {
    stats.renders += 1;
    var a = selected ? actors.get(selected) : null;
    var switched = !!a && drawn.actor !== a.id;
    renderList(switched);
    var changed = !!a && (switched || dirty.has(a.id));
    dirty.clear();
    if (!changed) return;
    var title = document.getElementById('title');
    title.textContent = a.id;
    title.className = '';
    document.getElementById('machine').textContent = a.machine;
    renderChart(a);
    renderTimeline(a);
    if (switched || a.snapDirty) {
      var phase = a.snapshot ? a.snapshot.phase : '';
      var ph = document.getElementById('phase');
      ph.textContent = phase;
      ph.setAttribute('data-phase', phase);
      var reason = stopReasonOf(a);
      document.getElementById('stop-reason').textContent = reason ? 'stop reason: ' + reason : '';
      renderQueue(a);
      document.getElementById('context').textContent = a.snapshot ? JSON.stringify(a.snapshot.context, null, 1) : '';
      a.snapDirty = false;
    }
    if (switched || a.devDirty) {
      renderDevices(a);
      a.devDirty = false;
    }
    drawn.actor = a.id;
  }

  var conn = document.getElementById('conn');
  var es = new EventSource('events' + q);
  es.addEventListener('open', function () { conn.textContent = 'live'; conn.setAttribute('data-state', 'live'); });
  es.addEventListener('error', function () {
    var closed = es.readyState === EventSource.CLOSED;
    conn.textContent = closed ? 'closed' : 'reconnecting';
    conn.setAttribute('data-state', closed ? 'closed' : 'connecting');
  });
  es.addEventListener('message', function (ev) {
    apply(JSON.parse(ev.data));
    schedule();
  });
})();
`;
