// The xraft dashboard page: no framework, no build step. It renders one "frame" (the nodes' views, the messages
// moving, recent events) either live, from the server's SSE stream of FeedBatches (src/dashboard/protocol.ts), or
// from a simulator recording (test/sim/recorder.ts), stepped forwards and backwards.
const SVG = 'http://www.w3.org/2000/svg';
const $ = (selector) => document.querySelector(selector);
const ROLE_COLOR = { leader: '#e6a100', follower: '#2f7fd8', candidate: '#e4572e', preCandidate: '#f2a07b', down: '#9aa0a6', stopped: '#9aa0a6', recovering: '#b0b7bf', removed: '#6b6b6b' };
const termColor = (term) => `hsl(${(term * 67) % 360} 62% 52%)`;
const el = (tag, attributes = {}, parent) => {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
};
const html = (tag, attributes = {}, text) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
};

const state = {
  mode: 'live',
  config: { nodes: [], controls: [] },
  statechart: null,
  /** id -> { view, receivedAt } */
  nodes: new Map(),
  /** live messages: { from, to, type, born } */
  messages: [],
  /** { at, leader, term } */
  leaders: [],
  events: [],
  cuts: new Set(),
  recording: null,
  step: 0,
  playing: null,
};

// ------------------------------------------------------------------------------------------------------------
// Live feed

function onBatch(batch) {
  const now = performance.now();
  state.nodes.set(batch.node, { view: batch.view, receivedAt: now });
  if (!state.config.nodes.includes(batch.node)) state.config.nodes.push(batch.node);
  for (const sent of batch.sent) {
    // One moving dot per peer and type per batch (heartbeats would otherwise swamp the picture).
    state.messages.push({ from: batch.node, to: sent.to, type: sent.type, count: sent.count, born: now });
  }
  if (state.messages.length > 200) state.messages.splice(0, state.messages.length - 200);
  for (const record of batch.inspections) state.events.push({ node: batch.node, ...record });
  if (state.events.length > 120) state.events.splice(0, state.events.length - 120);
  noteLeader(Date.now());
}

function noteLeader(at) {
  const leaders = [...state.nodes.values()].map(({ view }) => view).filter((view) => view.up && view.role === 'leader');
  const top = leaders.sort((a, b) => b.term - a.term)[0];
  const leader = top?.id ?? null;
  const last = state.leaders[state.leaders.length - 1];
  if (last === undefined || last.leader !== leader) state.leaders.push({ at, leader, term: top?.term ?? 0 });
}

function liveFrame() {
  const now = performance.now();
  state.messages = state.messages.filter((message) => now - message.born < 600);
  const views = state.config.nodes.map((id) => {
    const known = state.nodes.get(id);
    if (!known) return { id, up: false, role: 'down', term: 0, state: 'down', log: [], progress: {}, commitIndex: 0, appliedIndex: 0, lastIndex: 0 };
    const view = { ...known.view };
    if (view.electionTimer) view.electionTimer = { ...view.electionTimer, elapsedMs: view.electionTimer.elapsedMs + (now - known.receivedAt) };
    return view;
  });
  return {
    views,
    messages: state.messages.map((message) => ({ ...message, progress: (now - message.born) / 600 })),
    events: state.events.slice(-60).reverse().map((record) => `${record.node} ${record.type} ${record.actor}${record.event ? ` ${record.event}` : ''}${record.summary ? ` (${record.summary})` : ''}${record.state ? ` → ${record.state}` : ''}`),
    leaders: state.leaders,
    span: [state.leaders[0]?.at ?? Date.now(), Date.now()],
    cuts: state.cuts,
  };
}

// ------------------------------------------------------------------------------------------------------------
// Replay

function replayFrame() {
  const recording = state.recording;
  const step = recording.steps[state.step];
  const leaders = [];
  for (let i = 0; i <= state.step; i++) {
    const at = recording.steps[i];
    const top = at.nodes.filter((view) => view.up && view.role === 'leader').sort((a, b) => b.term - a.term)[0];
    const leader = top?.id ?? null;
    if (leaders.length === 0 || leaders[leaders.length - 1].leader !== leader) leaders.push({ at: at.time, leader, term: top?.term ?? 0 });
  }
  const events = [];
  for (let i = state.step; i >= 0 && events.length < 60; i--) for (const line of [...recording.steps[i].event].reverse()) events.push(`#${recording.steps[i].step} ${line}`);
  return {
    views: step.nodes,
    messages: step.inFlight.map((message) => ({ ...message, progress: message.sentAt === undefined ? 0.5 : Math.min(0.95, Math.max(0.05, (step.time - message.sentAt) / Math.max(0.001, message.deliverAt - message.sentAt))) })),
    events: events.slice(0, 60),
    leaders,
    span: [recording.steps[0].time, Math.max(step.time, recording.steps[0].time + 1)],
    cuts: new Set((step.partitions ?? []).map(([a, b]) => [a, b].sort().join('|'))),
  };
}

async function loadRecording(recording) {
  state.mode = 'replay';
  state.recording = recording;
  state.step = 0;
  state.config.nodes = recording.nodes;
  $('#replay-bar').hidden = false;
  $('#controls-panel').hidden = true;
  $('#scrub').max = String(recording.steps.length - 1);
  $('#mode').textContent = `replay: seed ${recording.seed}, ${recording.steps.length} steps`;
  $('#title').textContent = `replay of seed ${recording.seed}`;
  render();
}

function go(step) {
  if (!state.recording) return;
  state.step = Math.max(0, Math.min(state.recording.steps.length - 1, step));
  render();
}

// ------------------------------------------------------------------------------------------------------------
// Rendering

function render() {
  const frame = state.mode === 'replay' ? replayFrame() : liveFrame();
  renderSummary(frame);
  renderCluster(frame);
  renderTimeline(frame);
  renderLogs(frame);
  renderProgress(frame);
  renderCharts(frame);
  renderEvents(frame);
  renderControls(frame);
  if (state.mode === 'replay') {
    const step = state.recording.steps[state.step];
    $('#scrub').value = String(state.step);
    $('#replay-step').textContent = `step ${state.step + 1} / ${state.recording.steps.length} · t=${step.time.toFixed(1)} ms`;
    $('#replay-event').textContent = step.event.join(' · ');
  }
}

function renderSummary(frame) {
  const up = frame.views.filter((view) => view.up);
  const leaders = up.filter((view) => view.role === 'leader').sort((a, b) => b.term - a.term);
  const leader = leaders[0];
  const summary = $('#summary');
  summary.replaceChildren();
  const add = (text, bold) => summary.appendChild(bold ? html('b', {}, text) : document.createTextNode(text));
  if (leader) {
    add(leader.id, true);
    add(` leads in term ${leader.term} · commit index ${leader.commitIndex} · `);
  } else add('no leader (an election is under way or a majority is unreachable) · ');
  add(`${up.length} of ${frame.views.length} nodes up`);
  const cuts = [...frame.cuts];
  if (cuts.length > 0) add(` · links cut: ${cuts.map((cut) => cut.replace('|', '–')).join(', ')}`);
  summary.dataset.leader = leader?.id ?? '';
  summary.dataset.leaders = String(leaders.length);
}

function positions(ids) {
  const center = { x: 230, y: 185 };
  const radius = ids.length <= 1 ? 0 : 125;
  const map = new Map();
  ids.forEach((id, index) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * index) / ids.length;
    map.set(id, { x: center.x + radius * Math.cos(angle), y: center.y + radius * Math.sin(angle) });
  });
  return map;
}

function renderCluster(frame) {
  const svg = $('#cluster');
  svg.replaceChildren();
  const ids = frame.views.map((view) => view.id);
  const at = positions(ids);
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const a = at.get(ids[i]);
      const b = at.get(ids[j]);
      const cut = frame.cuts.has([ids[i], ids[j]].sort().join('|'));
      el('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: cut ? 'link cut' : 'link', 'data-link': [ids[i], ids[j]].sort().join('|') }, svg);
      if (cut) el('text', { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 + 5, class: 'cut-mark' }, svg).textContent = '✕';
    }
  }
  for (const message of frame.messages) {
    const a = at.get(message.from);
    const b = at.get(message.to);
    if (!a || !b) continue;
    const t = message.progress;
    const color = /Response/.test(message.type) ? '#2a9d8f' : /Vote/.test(message.type) ? '#e4572e' : /Snapshot/.test(message.type) ? '#8338ec' : '#3a86ff';
    const dot = el('circle', { cx: a.x + (b.x - a.x) * t, cy: a.y + (b.y - a.y) * t, r: message.type === 'AppendEntries' && (message.count ?? 1) > 1 ? 6 : 5, fill: color, class: 'msg' }, svg);
    el('title', {}, dot).textContent = `${message.from} → ${message.to}: ${message.type}${message.count > 1 ? ` ×${message.count}` : ''}`;
  }
  for (const view of frame.views) {
    const p = at.get(view.id);
    const role = view.up ? view.role : 'down';
    const group = el('g', { 'data-node': view.id, 'data-role': role, 'data-term': view.term, class: 'node' }, svg);
    el('circle', { cx: p.x, cy: p.y, r: 44, class: 'timer-track' }, group);
    if (view.electionTimer && view.up) {
      const fraction = Math.min(1, view.electionTimer.elapsedMs / view.electionTimer.afterMs);
      const angle = 2 * Math.PI * fraction;
      const large = fraction > 0.5 ? 1 : 0;
      const end = { x: p.x + 44 * Math.sin(angle), y: p.y - 44 * Math.cos(angle) };
      if (fraction >= 0.999) el('circle', { cx: p.x, cy: p.y, r: 44, class: 'timer-arc' }, group);
      else el('path', { d: `M ${p.x} ${p.y - 44} A 44 44 0 ${large} 1 ${end.x} ${end.y}`, class: 'timer-arc' }, group);
    }
    el('circle', { cx: p.x, cy: p.y, r: 36, fill: ROLE_COLOR[role] ?? '#999', class: 'node-circle' }, group);
    el('text', { x: p.x, y: p.y - 2, class: 'node-label' }, group).textContent = view.id;
    el('text', { x: p.x, y: p.y + 14, class: 'node-term' }, group).textContent = view.up ? `term ${view.term}` : 'down';
    el('text', { x: p.x, y: p.y + 62, class: 'node-caption' }, group).textContent = view.up ? role === 'leader' ? '★ leader' : role : 'stopped';
    const votes = view.votes && view.up && (role === 'candidate' || role === 'preCandidate') && view.votes.term >= view.term ? view.votes.granted : [];
    votes.forEach((voter, index) => {
      const vote = el('circle', { cx: p.x - 30 + index * 12, cy: p.y - 52, r: 5, class: 'vote' }, group);
      el('title', {}, vote).textContent = `vote from ${voter}`;
    });
    if (view.up && view.votedFor && role !== 'leader') el('text', { x: p.x, y: p.y + 76, class: 'legend', 'text-anchor': 'middle' }, group).textContent = `voted ${view.votedFor} (t${view.term})`;
    el('title', {}, group).textContent = `${view.id}: ${role}, term ${view.term}, commit ${view.commitIndex}, applied ${view.appliedIndex}, last ${view.lastIndex}`;
  }
  // Legend
  let x = 8;
  for (const [role, label] of [['leader', 'leader'], ['follower', 'follower'], ['candidate', 'candidate'], ['preCandidate', 'pre-candidate'], ['down', 'down']]) {
    el('circle', { cx: x + 5, cy: 370, r: 5, fill: ROLE_COLOR[role] }, svg);
    el('text', { x: x + 13, y: 374, class: 'legend' }, svg).textContent = label;
    x += label.length * 6 + 30;
  }
}

function renderTimeline(frame) {
  const svg = $('#timeline');
  svg.replaceChildren();
  const [start, end] = frame.span;
  const width = 440;
  const scale = (t) => 10 + ((t - start) / Math.max(1, end - start)) * width;
  frame.leaders.forEach((segment, index) => {
    const next = frame.leaders[index + 1]?.at ?? end;
    const x = scale(segment.at);
    const w = Math.max(1, scale(next) - x);
    const rect = el('rect', { x, y: 6, width: w, height: 22, fill: segment.leader ? termColor(segment.term) : '#e3e7ec' }, svg);
    el('title', {}, rect).textContent = segment.leader ? `${segment.leader} leads term ${segment.term}` : 'no leader';
    if (w > 34 && segment.leader) el('text', { x: x + 4, y: 21, class: 'legend', fill: '#fff' }, svg).textContent = `${segment.leader} t${segment.term}`;
  });
  const changes = frame.leaders.filter((segment) => segment.leader).length;
  el('text', { x: 10, y: 46, class: 'legend' }, svg).textContent = `${changes} leadership${changes === 1 ? '' : 's'} since ${state.mode === 'replay' ? 'the run began' : 'the page opened'} · grey = no leader`;
}

function renderLogs(frame) {
  const container = $('#logs');
  container.replaceChildren();
  const last = Math.max(0, ...frame.views.map((view) => view.lastIndex ?? 0));
  const first = Math.max(1, last - 59);
  const scale = html('div', { class: 'scale' });
  scale.append(html('span', {}, `index ${first}`), html('span', {}, `${last}`));
  container.appendChild(scale);
  for (const view of frame.views) {
    const row = html('div', { class: 'row', 'data-log': view.id });
    const name = html('div', { class: 'name' }, `${view.id} `);
    name.appendChild(html('span', { style: `color:${ROLE_COLOR[view.up ? view.role : 'down']}` }, view.up ? view.role : 'down'));
    const strip = html('div', { class: 'strip' });
    const termAt = new Map();
    for (const run of view.log ?? []) for (let i = run.from; i <= run.to; i++) termAt.set(i, run.term);
    for (let index = first; index <= Math.max(last, first + 59); index++) {
      const term = termAt.get(index);
      const cell = html('div', { class: 'cell' });
      if (term === undefined) cell.classList.add(index <= (view.snapshotIndex ?? 0) ? 'snap' : 'empty');
      else {
        cell.style.background = termColor(term);
        cell.title = `index ${index}, term ${term}`;
        if (index > view.commitIndex) cell.classList.add('uncommitted');
      }
      if (index <= (view.snapshotIndex ?? 0) && term === undefined) cell.style.background = '#c9d1da';
      if (index === view.commitIndex) cell.classList.add('commit');
      if (index === view.appliedIndex) cell.classList.add('applied');
      strip.appendChild(cell);
    }
    const nums = html('div', { class: 'nums' }, view.up ? `c ${view.commitIndex} a ${view.appliedIndex} l ${view.lastIndex}` : '');
    row.append(name, strip, nums);
    container.appendChild(row);
  }
}

function renderProgress(frame) {
  const body = $('#progress tbody');
  body.replaceChildren();
  const leader = frame.views.filter((view) => view.up && view.role === 'leader').sort((a, b) => b.term - a.term)[0];
  if (!leader) {
    const row = html('tr');
    row.appendChild(html('td', { colspan: 4 }, 'no leader'));
    body.appendChild(row);
    return;
  }
  for (const [follower, { match, next }] of Object.entries(leader.progress ?? {}).sort()) {
    const row = html('tr', { 'data-follower': follower });
    row.append(html('td', {}, follower), html('td', {}, String(match)), html('td', {}, String(next)), html('td', {}, String(Math.max(0, leader.lastIndex - match))));
    body.appendChild(row);
  }
}

function renderCharts(frame) {
  const container = $('#charts');
  const layout = state.statechart;
  if (!layout) return;
  for (const view of frame.views) {
    let chart = container.querySelector(`.chart[data-node="${view.id}"]`);
    if (!chart) {
      chart = html('div', { class: 'chart', 'data-node': view.id });
      chart.appendChild(html('h3'));
      chart.appendChild(drawStatechart(layout));
      container.appendChild(chart);
    }
    const active = activePaths(view.up ? view.state : 'stopped');
    chart.querySelector('h3').replaceChildren(document.createTextNode(`${view.id} `), html('span', { class: 'state' }, view.up ? view.state : 'down (process stopped)'));
    for (const box of chart.querySelectorAll('[data-state]')) {
      const on = active.has(box.dataset.state);
      box.classList.toggle('active', on);
    }
  }
}

/** `running.leader` -> { '', 'running', 'running.leader' } */
function activePaths(value) {
  const paths = new Set(['']);
  for (const part of String(value).split(',')) {
    const pieces = part.split('.');
    for (let i = 1; i <= pieces.length; i++) paths.add(pieces.slice(0, i).join('.'));
  }
  return paths;
}

function drawStatechart(layout) {
  const svg = el('svg', { viewBox: `-4 -4 ${layout.width + 8} ${layout.height + 8}`, class: 'statechart' });
  const defs = el('defs', {}, svg);
  const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, defs);
  el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#8d99a6' }, marker);
  const leafs = new Set(layout.boxes.filter((box) => !layout.boxes.some((other) => other.path.startsWith(`${box.path}.`) && box.path !== '')).map((box) => box.path));
  for (const box of [...layout.boxes].sort((a, b) => a.depth - b.depth)) {
    const leaf = leafs.has(box.path) && box.path !== '';
    const rect = el('rect', { x: box.x, y: box.y, width: box.width, height: box.height, class: `sc-box${leaf ? ' leaf' : ''}`, 'data-state': box.path }, svg);
    el('title', {}, rect).textContent = box.path || layout.machine;
    el('text', { x: box.x + (leaf ? box.width / 2 : 8), y: box.y + (leaf ? box.height / 2 + 4 : 15), class: 'sc-label', 'text-anchor': leaf ? 'middle' : 'start' }, svg).textContent = `${box.initial ? '→ ' : ''}${box.label}`;
    if (box.fromAnywhere.length > 0) el('text', { x: box.x, y: box.y + box.height + 12, class: 'sc-note' }, svg).textContent = `from anywhere: ${box.fromAnywhere.filter((event) => !event.startsWith('xstate.error')).join(', ')}, actor errors`;
  }
  for (const edge of layout.edges) {
    const d = edge.points.map((point, index) => `${index === 0 ? 'M' : 'L'} ${point.x} ${point.y}`).join(' ');
    const path = el('path', { d, class: 'sc-edge' }, svg);
    el('title', {}, path).textContent = `${edge.source} → ${edge.target}: ${edge.label === 'always' ? "eventless (the core's role changed)" : edge.label}`;
  }
  return svg;
}

function renderEvents(frame) {
  const list = $('#events');
  list.replaceChildren(...frame.events.map((line) => html('li', {}, line)));
}

function renderControls(frame) {
  const container = $('#controls');
  const controls = state.config.controls;
  if (state.mode !== 'live' || controls.length === 0) {
    $('#controls-panel').hidden = true;
    return;
  }
  $('#controls-panel').hidden = false;
  const ids = frame.views.map((view) => view.id);
  const signature = JSON.stringify([ids, frame.views.map((view) => view.up), [...frame.cuts], controls]);
  if (container.dataset.signature === signature) return;
  container.dataset.signature = signature;
  container.replaceChildren();
  const button = (label, action, extra = {}, className = '') => {
    const b = html('button', { 'data-action': action, class: className, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`data-${k}`, v])) }, label);
    b.addEventListener('click', () => control({ action, ...extra }));
    return b;
  };
  const row = (label) => {
    const group = html('div', { class: 'group' });
    group.appendChild(html('span', {}, label));
    container.appendChild(group);
    return group;
  };
  if (controls.includes('stop') || controls.includes('restart')) {
    const group = row('processes');
    for (const view of frame.views) {
      if (view.up && controls.includes('stop')) group.appendChild(button(`stop ${view.id}`, 'stop', { node: view.id }, 'danger'));
      else if (!view.up && controls.includes('restart')) group.appendChild(button(`restart ${view.id}`, 'restart', { node: view.id }));
    }
  }
  if (controls.includes('cut')) {
    const group = row('links');
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const key = [ids[i], ids[j]].sort().join('|');
        const cut = frame.cuts.has(key);
        group.appendChild(button(cut ? `heal ${ids[i]}–${ids[j]}` : `cut ${ids[i]}–${ids[j]}`, cut ? 'heal' : 'cut', { node: ids[i], peer: ids[j] }, cut ? 'on' : ''));
      }
    }
  }
  if (controls.includes('command')) {
    const group = row('command');
    const key = html('input', { id: 'command-key', value: 'greeting', size: 8 });
    const value = html('input', { id: 'command-value', value: 'hello', size: 10 });
    const send = html('button', { 'data-action': 'command' }, 'PUT');
    send.addEventListener('click', () => control({ action: 'command', key: key.value, value: value.value }));
    group.append(key, value, send);
  }
  if (controls.includes('transfer')) {
    const group = row('leadership');
    for (const id of ids) group.appendChild(button(`to ${id}`, 'transfer', { node: id }));
    group.appendChild(button('to the most up-to-date', 'transfer'));
  }
}

async function control(request) {
  const result = $('#control-result');
  result.textContent = `${request.action} ${request.node ?? ''} ${request.peer ?? ''}…`;
  try {
    const answer = await fetch('/api/control', { method: 'POST', body: JSON.stringify(request) });
    const body = await answer.json();
    if (!answer.ok) throw new Error(body.error?.message ?? answer.statusText);
    const key = [request.node, request.peer].sort().join('|');
    if (request.action === 'cut') state.cuts.add(key);
    if (request.action === 'heal') state.cuts.delete(key);
    result.textContent = `${request.action} ${request.node ?? ''} ${request.peer ?? ''}: done`;
    result.dataset.last = `${request.action}:ok`;
  } catch (error) {
    result.textContent = `${request.action} failed: ${error.message}`;
    result.dataset.last = `${request.action}:failed`;
  }
  render();
}

// ------------------------------------------------------------------------------------------------------------
// Start

async function main() {
  state.statechart = await fetch('/api/statechart').then((answer) => answer.json());
  state.config = await fetch('/api/config').then((answer) => answer.json());
  $('#title').textContent = state.config.title ?? '';
  $('#file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) await loadRecording(JSON.parse(await file.text()));
  });
  $('#first').addEventListener('click', () => go(0));
  $('#prev').addEventListener('click', () => go(state.step - 1));
  $('#next').addEventListener('click', () => go(state.step + 1));
  $('#scrub').addEventListener('input', (event) => go(Number(event.target.value)));
  $('#play').addEventListener('click', () => {
    if (state.playing) {
      clearInterval(state.playing);
      state.playing = null;
      $('#play').textContent = '▶ play';
    } else {
      state.playing = setInterval(() => (state.step >= state.recording.steps.length - 1 ? $('#play').click() : go(state.step + 1)), 120);
      $('#play').textContent = '⏸ pause';
    }
  });
  document.addEventListener('keydown', (event) => {
    if (state.mode !== 'replay' || event.target.tagName === 'INPUT') return;
    if (event.key === 'ArrowRight') go(state.step + 1);
    if (event.key === 'ArrowLeft') go(state.step - 1);
  });
  const replay = new URLSearchParams(location.search).get('replay') ?? (state.config.nodes.length === 0 ? state.config.recording : null);
  if (replay) {
    await loadRecording(await fetch(replay).then((answer) => answer.json()));
    document.body.dataset.ready = 'replay';
    return;
  }
  $('#mode').textContent = 'live';
  const events = new EventSource('/api/events');
  events.onmessage = (message) => onBatch(JSON.parse(message.data));
  events.onerror = () => ($('#mode').textContent = 'live (reconnecting…)');
  events.onopen = () => ($('#mode').textContent = 'live');
  setInterval(render, 100);
  document.body.dataset.ready = 'live';
}

main().catch((error) => {
  $('#summary').textContent = `the dashboard failed to start: ${error.message}`;
});
