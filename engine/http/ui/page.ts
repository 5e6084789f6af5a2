/**
 * The observability page, as one HTML string with inline CSS and script (no
 * build step, no external assets). It reads GET /pipelines and GET /ui/stats,
 * runs pipelines with ?debug=true and asks POST /pipelines/{name}/why.
 */
export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Airmail</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
  header .muted { color: #aab2c0; }
  header h1 { font-size: 18px; margin: 0; }
  main { padding: 12px 20px; display: grid; gap: 16px; }
  main > section { min-width: 0; }
  .scroll { overflow-x: auto; }
  .scroll.tall { max-height: 420px; overflow-y: auto; }
  .stale .scroll, .stale #summary { opacity: .45; }
  #conn:empty { display: none; }
  #conn { color: #fff; background: #b42318; padding: 2px 8px; border-radius: 4px; }
  .problems { white-space: pre-line; overflow-wrap: anywhere; }
  section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 10px 14px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eceef2; vertical-align: top; }
  th { background: #f0f2f5; font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
  .ids { max-width: 360px; overflow-wrap: anywhere; }
  .bad { color: #b42318; } .ok { color: #067647; } .muted { color: #667085; }
  textarea { box-sizing: border-box; width: 100%; min-height: 70px; font-family: ui-monospace, monospace; }
  .row { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
  button { padding: 4px 12px; }
  #why-answer { padding: 6px 0; }
  #trace tr.why-step td { background: #fff3cd; }
</style>
</head>
<body>
<header><h1>Airmail</h1><span id="summary" class="muted">loading…</span><span id="conn" role="status"></span><span id="updated" class="muted"></span></header>
<main>
<section>
  <h2>Pipelines</h2>
  <div class="row"><label>filter <input id="filter" type="search" size="24" placeholder="pipeline name contains…"></label><span id="filter-count" class="muted" role="status"></span></div>
  <div class="scroll tall"><table id="pipelines"><thead><tr><th>pipeline</th><th>version</th><th>loaded at</th><th>file</th><th>last rejection</th><th>description</th></tr></thead><tbody></tbody></table></div>
  <div id="rejected-now" hidden><h2 style="margin-top:12px" class="bad">Rejected files (not served until fixed)</h2>
  <div class="scroll tall"><table id="rejected"><thead><tr><th>at</th><th>files</th><th>problems</th></tr></thead><tbody></tbody></table></div></div>
</section>
<section>
  <h2>Live <span class="muted window">(last 60 s)</span></h2>
  <div class="scroll"><table id="live"><thead><tr><th>pipeline</th><th class="num">req/s</th><th class="num">mean ms</th><th class="num">p50 ms</th><th class="num">p95 ms</th><th class="num">empty %</th><th class="num">errors</th><th class="num">requests since start</th></tr></thead><tbody></tbody></table></div>
  <h2 style="margin-top:12px">Per operator <span class="muted window">(last 60 s)</span></h2>
  <div class="scroll"><table id="operators"><thead><tr><th>pipeline</th><th>step</th><th>operator</th><th>phase</th><th class="num">calls</th><th class="num">mean ms</th><th class="num">p95 ms</th><th class="num">calls since start</th></tr></thead><tbody></tbody></table></div>
</section>
<section>
  <h2>Run a pipeline</h2>
  <form id="run-form">
  <div class="row"><label>pipeline <select id="run-pipeline"></select></label>
    <button id="run" type="submit">Run with debug</button><span id="run-status" class="muted" role="status"></span></div>
  <label for="run-inputs" class="muted">inputs (JSON object; Ctrl+Enter runs)</label>
  <textarea id="run-inputs">{}</textarea>
  </form>
  <h2 style="margin-top:10px">Items</h2>
  <div class="scroll"><table id="items"><thead></thead><tbody></tbody></table></div>
  <h2 style="margin-top:10px">Debug trace</h2>
  <div class="scroll"><table id="trace"><thead><tr><th>step</th><th title="its place in the config: the list and the 0-based position in it">at</th><th>operator</th><th>parameters</th><th class="num">in</th><th class="num">out</th><th class="num">ms</th><th>kept</th><th>removed</th></tr></thead><tbody></tbody></table></div>
  <h2 style="margin-top:10px">Why not this item?</h2>
  <form id="why-form" class="row"><label>item id <input id="why-item" size="12"></label><button id="why" type="submit">Why?</button></form>
  <div id="why-answer" class="mono" role="status"></div>
</section>
<section>
  <h2>Reloads</h2>
  <div class="scroll tall"><table id="reloads"><thead><tr><th>at</th><th>result</th><th>files</th><th>problems</th></tr></thead><tbody></tbody></table></div>
</section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const td = (text, cls) => { const d = document.createElement('td'); d.textContent = text == null ? '' : String(text); if (cls) d.className = cls; return d; };
  // The pipeline tables (pipelines, live, per operator) show the rows whose pipeline name contains the filter.
  const FILTERED = new Set(['pipelines', 'live', 'operators']);
  const applyFilter = (table) => {
    const f = $('filter').value.trim().toLowerCase();
    let shown = 0;
    for (const tr of table.tBodies[0].rows) { tr.hidden = f !== '' && !tr.cells[0].textContent.toLowerCase().includes(f); if (!tr.hidden) shown++; }
    if (table.id === 'pipelines') $('filter-count').textContent = f === '' ? '' : shown + ' of ' + table.tBodies[0].rows.length + ' pipelines';
  };
  const fill = (table, rows) => { const b = table.tBodies[0]; b.replaceChildren(...rows.map((cells) => { const tr = document.createElement('tr'); tr.append(...cells); return tr; })); if (FILTERED.has(table.id)) applyFilter(table); };
  const num = (v, d = 2) => (typeof v === 'number' && isFinite(v) ? v.toFixed(d) : '');
  // A rate: one request in the last minute is 0.017/s, not 0.0.
  const rate = (v) => (typeof v !== 'number' || !isFinite(v) ? '' : v === 0 ? '0' : v < 10 ? String(Number(v.toPrecision(2))) : v.toFixed(1));
  // Seconds as ms; none (null: NaN in the JSON, nothing timed) stays blank, not 0.
  const ms = (v, d = 2) => (typeof v === 'number' ? num(v * 1000, d) : '');
  const clock = (t) => new Date(t).toLocaleTimeString();
  let pipelines = [];
  let configAt;
  let down = null;

  // Failing to reach the server (stopped, restarting) says so; an answer that is not JSON (a proxy's page) too.
  async function getJson(url, init) {
    let r;
    try { r = await fetch(url, init); } catch (e) { throw new Error('server unreachable (' + e.message + ')'); }
    const text = await r.text();
    try { return { status: r.status, body: JSON.parse(text) }; } catch (e) { throw new Error('HTTP ' + r.status + ': not a JSON answer: ' + text.slice(0, 200)); }
  }

  // Diagnostics one per line, with file:line; a long list shows the first 3 and opens for the rest.
  function problems(diags, cls) {
    const lines = (diags || []).map((d) => (d.file ? d.file.split('/').pop() + (d.line ? ':' + d.line : '') + ': ' : '') + d.message);
    const cell = td('', 'problems' + (cls ? ' ' + cls : ''));
    if (lines.length <= 3) { cell.textContent = lines.join('\\n'); return cell; }
    const det = document.createElement('details');
    const sum = document.createElement('summary');
    sum.textContent = lines.slice(0, 3).join('\\n') + '\\n… and ' + (lines.length - 3) + ' more';
    const rest = document.createElement('div');
    rest.textContent = lines.slice(3).join('\\n');
    det.append(sum, rest);
    cell.append(det);
    return cell;
  }

  // A value of each input's type to start from; an input that takes a value or a list has a type list.
  function exampleInputs(schema) {
    const out = {};
    for (const [k, s] of Object.entries((schema && schema.properties) || {})) {
      const types = Array.isArray(s.type) ? s.type : [s.type];
      const t = types.find((x) => x !== 'array' && x !== 'null') || types[0];
      out[k] = s.default !== undefined ? s.default : t === 'integer' || t === 'number' ? 1 : t === 'boolean' ? false : t === 'array' ? [] : '';
    }
    return out;
  }

  async function loadPipelines() {
    const { body } = await getJson('/pipelines');
    // A/B experiments run like pipelines (the run form and why go through them); their description, arms and shares as description.
    pipelines = (body.pipelines || []).concat((body.experiments || []).map((x) => Object.assign({}, x, { description: (x.description ? x.description + ' · ' : '') + 'experiment on ' + x.unit + ': ' + x.arms.map((a) => a.pipeline + ' ' + Math.round(a.share * 1000) / 10 + '%').join(', ') })));
    fill($('pipelines'), pipelines.map((p) => [td(p.name), td(p.version, 'mono'), td(p.loaded_at), td(p.file, 'muted'),
      p.last_rejection ? problems([{ message: p.last_rejection.at }, ...(p.last_rejection.diagnostics || [])], 'bad') : td(''), td(p.description, 'muted')]));
    // Files rejected now: a file whose pipelines never loaded has no row above.
    const rejections = body.rejections || [];
    $('rejected-now').hidden = rejections.length === 0;
    fill($('rejected'), rejections.map((r) => [td(r.at), td((r.files || []).join(', '), 'muted'), problems(r.diagnostics, 'bad')]));
    fill($('reloads'), (body.reloads || []).slice().reverse().map((r) => [td(r.at), td(r.kind, r.kind === 'rejected' ? 'bad' : 'ok'), td((r.files || []).join(', '), 'muted'),
      problems(r.diagnostics)]));
    const sel = $('run-pipeline');
    const current = sel.value;
    sel.replaceChildren(...pipelines.map((p) => { const o = document.createElement('option'); o.value = p.name; o.textContent = p.name; return o; }));
    if (current && pipelines.some((p) => p.name === current)) sel.value = current;
    else if (pipelines.length) { sel.value = pipelines[0].name; setInputs(); }
    $('summary').textContent = pipelines.length + ' pipelines, ' + rejections.length + ' rejected files';
  }

  function setInputs() {
    const p = pipelines.find((x) => x.name === $('run-pipeline').value);
    $('run-inputs').value = JSON.stringify(exampleInputs(p && p.inputs), null, 1);
  }

  // Live numbers are the server's last window_s seconds (GET /ui/stats: recent), not totals since it started.
  async function loadStats() {
    const { body } = await getJson('/ui/stats');
    for (const el of document.querySelectorAll('.window')) el.textContent = '(last ' + body.window_s + ' s)';
    fill($('live'), Object.entries(body.pipelines).map(([name, s]) => {
      const r = s.recent || {};
      return [td(name), td(rate(r.per_second), 'num'), td(ms(r.mean), 'num'), td(ms(r.p50), 'num'), td(ms(r.p95), 'num'),
        td(r.requests ? num((r.empty / r.requests) * 100, 1) : '', 'num'), td(r.errors, 'num'), td(s.requests, 'num')];
    }));
    fill($('operators'), body.operators.map((o) => [td(o.pipeline), td(o.step), td(o.operator, 'muted'), td(o.phase), td(o.recent.requests, 'num'),
      td(ms(o.recent.mean, 3), 'num'), td(ms(o.recent.p95, 3), 'num'), td(o.count, 'num')]));
    $('updated').textContent = 'updated ' + clock(body.now);
    // A config reload (applied or rejected) shows at the next poll, not at the next pipelines refresh.
    if (configAt !== undefined && body.config_changed_at !== configAt) await loadPipelines();
    configAt = body.config_changed_at;
  }

  // Polled every 2 s; while the server cannot be reached the page says since when and that the numbers are
  // stale, and polls less often (up to every 10 s) until it answers again.
  async function poll() {
    let wait = 2000;
    try {
      await loadStats();
      if (down) { down = null; await loadPipelines(); }
    } catch (e) {
      down = down || { since: Date.now(), tries: 0 };
      down.tries++;
      wait = Math.min(10000, 2000 * down.tries);
    }
    $('conn').textContent = down ? 'server unreachable since ' + clock(down.since) + ': the numbers below are from before then' : '';
    document.body.classList.toggle('stale', down !== null);
    setTimeout(poll, wait);
  }

  // Tables and answers of an earlier run would pass for this one's: clear them when a run cannot start.
  function clearRun() {
    $('items').tHead.replaceChildren();
    fill($('items'), []);
    fill($('trace'), []);
    traced = [];
    $('why-answer').textContent = '';
  }

  function readInputs() {
    try { return JSON.parse($('run-inputs').value || '{}'); } catch (e) {
      clearRun();
      $('run-status').textContent = 'inputs are not JSON: ' + e.message;
      $('run-status').className = 'bad';
      return null;
    }
  }

  // Which arm of an experiment answered (and how it was picked), and a fallback that answered instead: the items and trace are theirs.
  function answeredBy(body) {
    const x = body.experiment;
    const f = body.fallback;
    return (x ? ' · arm ' + x.arm + ' (' + x.assignment + (x.bucket != null ? ', bucket ' + x.bucket : '') + ')' : '')
      + (f ? ' · answered by fallback ' + body.pipeline + ' (' + f.from + ': ' + f.cause + ')' : '');
  }

  async function run() {
    const name = $('run-pipeline').value;
    const inputs = readInputs();
    if (!name || !inputs) return;
    clearRun();
    $('run-status').textContent = 'running…';
    $('run-status').className = 'muted';
    const { status, body } = await getJson('/pipelines/' + encodeURIComponent(name) + '?debug=true', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(inputs) });
    $('run-status').textContent = status + ' · ' + (body.items || []).length + ' items · ' + (body.took_ms != null ? body.took_ms + ' ms' : '') + answeredBy(body) + (body.reason ? ' · ' + body.reason : '');
    $('run-status').className = body.error ? 'bad' : 'muted';
    const items = body.items || [];
    const cols = items.length ? Object.keys(items[0]) : [];
    const head = document.createElement('tr');
    head.append(...cols.map((c) => { const th = document.createElement('th'); th.textContent = c; return th; }));
    $('items').tHead.replaceChildren(head);
    fill($('items'), items.map((it) => cols.map((c) => td(typeof it[c] === 'number' && !Number.isInteger(it[c]) ? it[c].toFixed(6) : it[c]))));
    const steps = (body.debug && body.debug.steps) || [];
    const ids = (list, total) => (list || []).join(', ') + (total > (list || []).length ? ' … (' + total + ')' : '');
    // A step that failed (a source: the run answers error: true) says so in its row, with why.
    traced = steps;
    fill($('trace'), steps.map((s) => [td(s.step, s.failed ? 'bad' : ''), td(at(s)), td(s.operator, 'muted'), td(JSON.stringify(s.parameters), 'mono ids'), td(s.rowsIn, 'num'), td(s.rowsOut, 'num'),
      td(num(s.ms, 3), 'num'), s.failed ? td('failed (' + s.code + '): ' + s.error, 'bad ids') : td(ids(s.kept, s.keptTotal), 'mono ids'), td(ids(s.removed, s.removedTotal), 'mono ids')]));
    loadStats().catch(() => {});
  }

  // Where a step sits in the config (operations[1]): two steps of one name (two Match) read apart, in the trace and in why.
  const LISTS = { include: 'includes', exclude: 'excludes', score: 'scores', operation: 'operations' };
  const at = (s) => (LISTS[s.phase] || s.phase) + (s.index >= 0 ? '[' + s.index + ']' : '');
  let traced = [];
  // The trace row of the step that removed the item, marked (the same list and position).
  function markTrace(step) {
    const rows = $('trace').tBodies[0].rows;
    for (let i = 0; i < rows.length; i++) rows[i].classList.toggle('why-step', !!step && traced[i] !== undefined && traced[i].phase === step.phase && traced[i].index === step.index);
  }

  async function why() {
    const name = $('run-pipeline').value;
    const inputs = readInputs();
    const raw = $('why-item').value.trim();
    if (!name || !inputs || raw === '') return;
    // Empty until this question's answer comes: the last answer is not this one's.
    $('why-answer').textContent = '';
    markTrace(null);
    // Sent as typed: the server reads it as the item id column's type ("007" stays a text id).
    const item = raw;
    const { body } = await getJson('/pipelines/' + encodeURIComponent(name) + '/why', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs, item }) });
    const w = body.why;
    $('why-answer').textContent = (body.experiment ? 'arm ' + body.experiment.arm + ' · ' : '') + (w ? w.verdict + ': ' + w.reason : (body.reason || 'no answer'));
    markTrace(w && w.removedBy);
    $('why-answer').className = 'mono ' + (w && w.verdict === 'kept' ? 'ok' : 'bad');
  }

  // Forms: Enter in the item id asks, Ctrl+Enter (or Cmd+Enter) in the inputs runs, as do the buttons.
  $('run-form').addEventListener('submit', (ev) => { ev.preventDefault(); run().catch((e) => { $('run-status').textContent = e.message; $('run-status').className = 'bad'; }); });
  $('why-form').addEventListener('submit', (ev) => { ev.preventDefault(); why().catch((e) => { $('why-answer').textContent = e.message; $('why-answer').className = 'mono bad'; }); });
  $('run-inputs').addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); $('run-form').requestSubmit(); } });
  // Another pipeline: the last one's run, status and answer are not this one's.
  $('run-pipeline').addEventListener('change', () => { setInputs(); clearRun(); $('run-status').textContent = ''; });
  $('filter').addEventListener('input', () => { for (const id of FILTERED) applyFilter($(id)); });
  loadPipelines().catch((e) => { $('summary').textContent = e.message; }).then(poll);
  setInterval(() => { if (!down) loadPipelines().catch(() => {}); }, 30000);
})();
</script>
</body>
</html>
`;
