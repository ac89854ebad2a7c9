"""The Jinja2 template of the HTML audit report (kept in a module so it ships as code).

Rendered with autoescaping on (see ``_html.py``). The page has no script, no
external resource, inline CSS only, and a Content-Security-Policy that allows
nothing but inline styles and ``data:`` images.
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="generator" content="rulekd {{ doc.environment.rulekd }}">
<title>{{ s.summary.title }}</title>
<style>
:root { --ink: #1d2330; --muted: #5b6472; --line: #d9dde3; --bg: #ffffff; --band: #f5f7fa;
        --ok: #1e7b3c; --bad: #b3261e; --warn: #9a6200; --info: #2b5fa6; --unknown: #6b4fa0; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); margin: 0; }
header { background: var(--band); border-bottom: 1px solid var(--line); padding: 1.5rem 2rem 1rem; }
header h1 { margin: 0 0 .25rem; font-size: 1.6rem; }
.meta { color: var(--muted); margin: 0 0 .75rem; font-size: .9rem; }
nav ol { display: flex; flex-wrap: wrap; gap: .25rem 1.5rem; margin: 0; padding: 0; list-style: none; }
nav a { color: var(--info); text-decoration: none; }
main { max-width: 72rem; margin: 0 auto; padding: 0 2rem 3rem; }
section { border-bottom: 1px solid var(--line); padding: 1.5rem 0; }
h2 { font-size: 1.3rem; margin: 0 0 .75rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .5rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .3rem .55rem; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: var(--band); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.rule, pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
p code { overflow-wrap: anywhere; }  /* a SHA-256 or a long path wraps on a narrow screen */
pre { background: var(--band); border: 1px solid var(--line); padding: .75rem; overflow-x: auto;
      white-space: pre-wrap; }
.headline { display: flex; flex-wrap: wrap; gap: .75rem; margin: .75rem 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .9rem; min-width: 9rem; }
.card .v { font-size: 1.35rem; font-weight: 600; }
.card .k { color: var(--muted); font-size: .8rem; }
.badge { display: inline-block; border-radius: 4px; padding: 0 .45rem; font-size: .8rem; font-weight: 600;
         color: #fff; background: var(--muted); white-space: nowrap; }
.badge.proved { background: var(--ok); }
.badge.violated, .badge.error { background: var(--bad); }
.badge.warning { background: var(--warn); }
.badge.information { background: var(--info); }
.badge.unknown { background: var(--unknown); }
.flag { color: var(--warn); font-weight: 600; }
.note { color: var(--muted); }
figure { margin: .5rem 0 1rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .85rem; }
details summary { cursor: pointer; color: var(--info); }
ul.limits li { margin: .25rem 0; }
.kind { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
@media print { nav { display: none; } section { break-inside: avoid-page; } }
</style>
</head>
<body>
<header>
<h1>{{ s.summary.title }}</h1>
<p class="meta">Audit report created {{ doc.created }} with rulekd {{ doc.environment.rulekd }}
 (format {{ doc.format }}, schema version {{ doc.schema_version }}).</p>
<nav aria-label="Sections"><ol>
{% for id in order %}<li><a href="#{{ id }}">{{ loop.index }}. {{ titles[id] }}</a></li>{% endfor %}
</ol></nav>
</header>
<main>
{# ------------------------------------------------------------------ 1. summary #}
{% set sm = s.summary %}
<section id="summary">
<h2>1. {{ titles.summary }}</h2>
<p><strong>{{ sm.model_type }}</strong>: {{ sm.description }}. Audited on {{ sm.n_rows | num }} rows,
 {{ sm.n_features | num }} features; classes {{ sm.classes | join(", ") }}.
{% if sm.teacher %} Teacher: {{ sm.teacher }}.{% else %} No teacher.{% endif %}</p>
{% set pv = doc.get("provenance") %}{% if pv %}
<p class="meta">Provenance. Audited rows: SHA-256 <code>{{ pv.data.sha256 }}</code> ({{ pv.data.method }}).
{% if pv.get("data_file") %} Data file <code>{{ pv.data_file.path }}</code>: SHA-256 <code>{{ pv.data_file.sha256 }}</code>.{% endif %}
{% if pv.model.sha256 %} Model{% if pv.model.get("path") %} <code>{{ pv.model.path }}</code>{% endif %}: SHA-256 <code>{{ pv.model.sha256 }}</code> ({{ pv.model.method }}).{% else %} Model: no fingerprint ({{ pv.model.reason }}).{% endif %}</p>
{% endif %}
<div class="headline">
<div class="card"><div class="v">{{ sm.headline.accuracy | pct }}</div><div class="k">accuracy
{%- if sm.headline.get("accuracy_ci") %}<br>95 % interval {{ sm.headline.accuracy_ci | ci }}{% endif %}</div></div>
<div class="card"><div class="v">{{ sm.headline.balanced_accuracy | pct }}</div><div class="k">balanced accuracy</div></div>
<div class="card"><div class="v">{{ sm.headline.roc_auc | num }}</div><div class="k">ROC AUC</div></div>
<div class="card"><div class="v">{{ sm.headline.fidelity | pct }}</div><div class="k">fidelity to the teacher</div></div>
<div class="card"><div class="v">{{ sm.headline.transparency | pct }}</div><div class="k">answered by rules</div></div>
<div class="card"><div class="v">{{ sm.headline.rules | num }}</div><div class="k">rules</div></div>
<div class="card"><div class="v"><span class="badge {{ sm.verification_status }}">{{ sm.verification_status }}</span></div>
<div class="k">verification</div></div>
</div>
{% if sm.verification_counts %}
<p class="note">Verification findings:
{% for k, v in sm.verification_counts.items() %}{{ v }} {{ k }}{% if not loop.last %}, {% endif %}{% endfor %}.
 Gaps (inputs no rule matches) are information; dead or redundant rules are warnings.</p>
{% endif %}
</section>

{# ------------------------------------------------------------------ 2. data #}
{% set d = s.data %}
<section id="data">
<h2>2. {{ titles.data }}</h2>
<p>{{ d.n_rows | num }} rows, {{ d.n_features | num }} features, {{ d.rows_with_missing | num }} rows with a missing value.</p>
<h3>Class balance</h3>
<table><thead><tr><th>class</th><th class="n">rows</th><th class="n">share</th></tr></thead><tbody>
{% for c in d.class_balance %}
<tr><td>{{ c["class"] }}{% if c.get("unknown_to_model") %} <span class="flag">(not a class of the model)</span>{% endif %}</td>
<td class="n">{{ c.n | num }}</td><td class="n">{{ c.share | pct }}</td></tr>
{% endfor %}
</tbody></table>
<h3>Features and missing values</h3>
<table><thead><tr><th>feature</th><th>kind</th><th class="n">missing</th><th class="n">missing share</th><th>range / levels</th></tr></thead><tbody>
{% for f in d.features %}
<tr><td><code>{{ f.name }}</code></td><td>{{ f.kind }}</td><td class="n">{{ f.missing | num }}</td>
<td class="n">{{ f.missing_share | pct }}</td>
<td>{% if f.kind == "numeric" %}{{ f.min | num }} to {{ f.max | num }} (mean {{ f.mean | num }}){% else %}{{ f.levels | num }} levels{% endif %}</td></tr>
{% endfor %}
</tbody></table>
{% if d.description %}
<details><summary>Data set description</summary><pre>{{ d.description }}</pre></details>
{% endif %}
</section>

{# ------------------------------------------------------------------ 3. model #}
{% set m = s.model %}
<section id="model">
<h2>3. {{ titles.model }}</h2>
<p><strong>{{ m.type }}</strong> ({{ m.kind }}): {{ m.description }}.</p>
<h3>Teacher</h3>
{% if m.teacher.present %}
<p>{{ m.teacher.type }}{% if m.teacher.adapter %} through {{ m.teacher.adapter }}{% endif %}, from {{ m.teacher.source }}.</p>
<details><summary>Teacher parameters</summary><p><code>{{ m.teacher.parameters | params }}</code></p></details>
{% else %}
<p>No teacher: none was given and the model has none.</p>
{% endif %}
<h3>Parts</h3>
{% if m.components %}
<table><thead><tr><th>role</th><th>type</th><th>size</th><th>details</th></tr></thead><tbody>
{% for c in m.components %}
<tr><td>{{ c.role }}</td><td>{{ c.type }}</td><td>{{ c.size | params }}</td>
<td>{% if c.role == "rules" %}{{ "ordered list" if c.ordered else "unordered set" }}, {% if c.default is none %}otherwise the neural student{% else %}default {{ c.default }}{% endif %}{% if c.source %}, from {{ c.source }}{% endif %}
{% elif c.get("hidden_layer_sizes") %}hidden layers {{ c.hidden_layer_sizes | join(", ") }}
{% elif c.get("items") %}{{ c["items"] | join("; ") }}{% endif %}</td></tr>
{% endfor %}
</tbody></table>
{% else %}
<p class="note">No parts to list.</p>
{% endif %}
{% if m.parameters %}
<h3>Parameters</h3>
<table><tbody>{% for k, v in m.parameters.items() %}<tr><th>{{ k }}</th><td><code>{{ v }}</code></td></tr>{% endfor %}</tbody></table>
{% endif %}
{% if m.fitted %}
<h3>Fitted attributes</h3>
<table><tbody>{% for k, v in m.fitted.items() %}<tr><th>{{ k }}</th><td>{% if v is mapping %}{{ v | params }}{% else %}{{ v | num }}{% endif %}</td></tr>{% endfor %}</tbody></table>
{% endif %}
</section>

{# ------------------------------------------------------------------ 4. performance #}
{% set p = s.performance %}
<section id="performance">
<h2>4. {{ titles.performance }}</h2>
<table><thead><tr><th>metric</th><th class="n">model</th>{% if p.teacher %}<th class="n">teacher</th>{% endif %}</tr></thead><tbody>
{% for key, name in [("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"), ("roc_auc", "ROC AUC"), ("brier", "Brier score")] %}
<tr><th>{{ name }}</th><td class="n">{{ p.model[key] | num }}</td>{% if p.teacher %}<td class="n">{{ p.teacher[key] | num }}</td>{% endif %}</tr>
{% endfor %}
{% if p.model.get("accuracy_ci") %}<tr><th>accuracy, 95 % interval</th><td class="n">{{ p.model.accuracy_ci | ci }}</td>{% if p.teacher %}<td class="n">{{ p.teacher.get("accuracy_ci") | ci }}</td>{% endif %}</tr>{% endif %}
{% if p.model.reliability %}<tr><th>expected calibration error</th><td class="n">{{ p.model.reliability.ece | num }}</td>{% if p.teacher %}<td class="n">{{ p.teacher.reliability.ece | num if p.teacher.reliability else "—" }}</td>{% endif %}</tr>{% endif %}
</tbody></table>
<p class="note">ROC AUC: {{ p.model.get("roc_auc_kind", "—") }}. Brier score: {{ p.model.get("brier_kind", "—") }}.</p>
{% if p.model.get("roc_auc_per_class") %}
<table><thead><tr><th>class</th><th class="n">ROC AUC (one vs rest)</th></tr></thead><tbody>
{% for r in p.model.roc_auc_per_class %}<tr><td>{{ r["class"] }}</td><td class="n">{{ r.roc_auc | num }}</td></tr>{% endfor %}
</tbody></table>
{% endif %}
{% for n in p.model.notes %}<p class="note">{{ n }}</p>{% endfor %}
{% if plots.reliability %}
<figure><img alt="Reliability diagram" src="{{ plots.reliability }}">
<figcaption>Reliability diagram: predicted probability against the observed share, in equal-width bins; bars count rows per bin.</figcaption></figure>
{% endif %}
</section>

{# ------------------------------------------------------------------ 5. fidelity #}
{% set fi = s.fidelity %}
<section id="fidelity">
<h2>5. {{ titles.fidelity }}</h2>
{% if fi.available %}
<p>The model agrees with the teacher ({{ fi.teacher_type }}, from {{ fi.source }}) on <strong>{{ fi.agreement | pct }}</strong> of the {{ fi.n | num }} rows.
{% if fi.fitted_fidelity is not none %} At fit time: {{ fi.fitted_fidelity | pct }} ({{ fi.fitted_fidelity_note }}).{% endif %}</p>
<table><thead><tr><th>class</th><th class="n">teacher says</th><th class="n">model agrees</th><th class="n">model says</th><th class="n">teacher agrees</th></tr></thead><tbody>
{% for r in fi.per_class %}
<tr><td>{{ r["class"] }}</td><td class="n">{{ r.n_teacher | num }}</td><td class="n">{{ r.where_teacher | pct }}</td>
<td class="n">{{ r.n_model | num }}</td><td class="n">{{ r.where_model | pct }}</td></tr>
{% endfor %}
</tbody></table>
<h3>Teacher (rows) against model (columns)</h3>
<table><thead><tr><th></th>{% for r in fi.per_class %}<th class="n">{{ r["class"] }}</th>{% endfor %}</tr></thead><tbody>
{% for row in fi.confusion %}<tr><th>{{ fi.per_class[loop.index0]["class"] }}</th>{% for v in row %}<td class="n">{{ v | num }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
{% else %}
<p>Fidelity is not reported: {{ fi.get("reason", "no teacher") }}.</p>
{% endif %}
</section>

{# ------------------------------------------------------------------ 6. transparency #}
{% set t = s.transparency %}
<section id="transparency">
<h2>6. {{ titles.transparency }}</h2>
<p><strong>{{ t.transparency | pct }}</strong> of the rows are answered by rules ({{ t.definition }}).
{% if t.fitted_transparency is not none %} At fit time: {{ t.fitted_transparency | pct }}.{% endif %}</p>
<table><thead><tr><th>answered by</th><th class="n">rows</th><th class="n">share</th><th class="n">accuracy</th><th class="n">fidelity</th></tr></thead><tbody>
{% for r in t.parts %}
<tr><td>{{ r.answered_by }}</td><td class="n">{{ r.n | num }}</td><td class="n">{{ r.share | pct }}</td><td class="n">{{ r.accuracy | pct }}</td><td class="n">{{ r.fidelity | pct }}</td></tr>
{% endfor %}
</tbody></table>
{% for n in t.notes %}<p class="note">{{ n }}</p>{% endfor %}
{% if plots.transparency %}
<figure><img alt="Transparency curve" src="{{ plots.transparency }}">
<figcaption>Accuracy as more or fewer rows are left to the rules (the model's transparency_curve on these rows).</figcaption></figure>
{% endif %}
{% if t.curve %}
<details><summary>Transparency curve values</summary>
<table><thead><tr>{% for k in t.curve[0].keys() %}<th class="n">{{ k }}</th>{% endfor %}</tr></thead><tbody>
{% for r in t.curve %}<tr>{% for v in r.values() %}<td class="n">{{ v | num }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table></details>
{% endif %}
</section>

{# ------------------------------------------------------------------ 7. rules #}
{% set r = s.rules %}
<section id="rules">
<h2>7. {{ titles.rules }}</h2>
{% if r.present %}
<p>{{ r.rules | length }} rules, {{ r.semantics }}. Support and precision are measured on the audited rows
 (support: rows the rule answers; precision: share of them whose label is the rule's class).
{% if not r.verified %} The rules were not checked for dead or redundant rules, so none is marked.{% else %}
 The verifier column reports the checks {{ r.checked | join(", ") }}{% if r.checked | length < 3 %} (the others were not run){% endif %}.{% endif %}</p>
<table><thead><tr><th>id</th><th>rule</th><th>class</th><th class="n">support</th><th class="n">share</th><th class="n">precision</th>
<th class="n">held-out precision</th><th class="n">fit support</th><th class="n">fit confidence</th><th>verifier</th></tr></thead><tbody>
{% for x in r.rules %}
<tr><td><code>{{ x.id }}</code></td><td class="rule">{{ x.rule }}</td><td>{{ x["class"] }}</td>
<td class="n">{{ x.support | num }}</td><td class="n">{{ x.support_share | pct }}</td><td class="n">{{ x.precision | pct }}</td>
<td class="n">{{ x.held_out_precision | pct }}</td><td class="n">{{ x.fit_support | num }}</td><td class="n">{{ x.fit_confidence | pct }}</td>
<td>{% if x.dead %}<span class="badge warning">dead</span> {% endif %}{% if x.redundant %}<span class="badge warning">redundant</span> {% endif %}
{% for c in x.redundant_conditions %}<span class="flag">redundant condition</span> <code>{{ c }}</code> {% endfor %}
{% for c in x.undecided %}<span class="badge unknown">{{ c }} unknown</span> {% endfor %}
{% if not (x.dead or x.redundant or x.redundant_conditions or x.undecided) %}{{ "ok" if r.verified else "—" }}{% endif %}</td></tr>
{% endfor %}
<tr><td><code>default</code></td><td class="rule">otherwise{% if r.default["class"] is none %}: {{ r.default.answered_by }}{% endif %}</td><td>{{ r.default["class"] }}</td><td class="n">{{ r.default.support | num }}</td>
<td class="n">{{ r.default.support_share | pct }}</td><td class="n">{{ r.default.precision | pct }}</td><td class="n">—</td><td class="n">—</td><td class="n">—</td><td>—</td></tr>
</tbody></table>
<details><summary>The rules as text</summary><pre>{{ r.text }}</pre></details>
{% endif %}
{% for n in r.notes %}<p class="note">{{ n }}</p>{% endfor %}
</section>

{# ------------------------------------------------------------------ 8. verification #}
{% set v = s.verification %}
<section id="verification">
<h2>8. {{ titles.verification }}</h2>
<p>Status: <span class="badge {{ v.status }}">{{ v.status }}</span>
{% if v.ran %} (the verifier's own status: {{ v.verifier_status }}). Scope: {{ v.scope }}. Time: {{ v.seconds | secs }}
 (budget {{ v.time_budget_s | num }} s, {{ v.timeout_ms | num }} ms per query).{% endif %}</p>
{% if v.reason %}<p class="note">{{ v.reason }}</p>{% endif %}
{% for n in v.get("notes", []) %}<p class="note">{{ n }}</p>{% endfor %}
{% if v.ran %}
<p class="note"><span class="badge proved">proved</span> holds on every input of the Domain (Z3 unsat);
<span class="badge violated">violated</span> a property, conflict or equivalence fails, with a counterexample the model really evaluates so;
<span class="badge warning">warning</span> a dead or redundant rule or condition (the rules could be shorter);
<span class="badge information">information</span> a gap: inputs no rule matches, answered by the default class (or a hybrid's student), as designed;
<span class="badge unknown">unknown</span> undecided (a timeout or the budget, or the reason the finding gives): nothing is claimed.</p>
{% if v.properties %}<p>Properties checked: {% for pr in v.properties %}<code>{{ pr }}</code>{% if not loop.last %}; {% endif %}{% endfor %}.</p>{% endif %}
{% if v.get("guards") %}<p>The hybrid's guards, proved on the whole hybrid: {% for pr in v.guards %}<code>{{ pr }}</code>{% if not loop.last %}; {% endif %}{% endfor %}.</p>{% endif %}
{% if v.skipped %}<p class="note">Skipped: {% for k, w in v.skipped.items() %}{{ k }} ({{ w }}){% if not loop.last %}; {% endif %}{% endfor %}.</p>{% endif %}
<table><thead><tr><th>status</th><th>check</th><th>finding</th><th>rules</th><th class="n">time</th><th>counterexample</th></tr></thead><tbody>
{% for f in v.findings %}
<tr><td><span class="badge {{ f.severity }}">{{ f.severity }}</span>{% if f.severity != f.status %}<br><span class="note">verifier: {{ f.status }}</span>{% endif %}</td>
<td>{{ f.check }}{% if f.get("property") %}<br><code>{{ f.property }}</code>{% endif %}{% if f.get("scope") == "hybrid" %}<br><span class="note">whole hybrid</span>{% endif %}</td>
<td>{{ f.message }}{% if f.get("note") %}<br><span class="note">{{ f.note }}</span>{% endif %}
{% if f.details.get("data_share") is not none %}<br><span class="note">share of audited rows in this region and none listed above it: {{ f.details.data_share | pct }}</span>{% endif %}</td>
<td>{{ f.rules | join(", ") if f.rules else "—" }}</td><td class="n">{{ f.seconds | secs }}</td>
<td class="rule">{% set cx = f.counterexample | cex %}{% if cx | length > 160 %}<details><summary>{{ cx[:60] }}…</summary>{{ cx }}</details>{% else %}{{ cx }}{% endif %}</td></tr>
{% endfor %}
</tbody></table>
{% if v.domain %}
<details><summary>The Domain (what "every input" means)</summary>
<table><thead><tr><th>feature</th><th>kind</th><th>bounds / levels</th><th>missing allowed</th></tr></thead><tbody>
{% for f in v.domain.features %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.kind }}</td>
<td>{% if f.kind == "categorical" %}{{ f.levels | join(", ") }}{% else %}{{ f.lower }} to {{ f.upper }}{% endif %}</td><td>{{ f.allow_missing | yesno }}</td></tr>{% endfor %}
</tbody></table>
{% set groups = v.domain.get("onehot_groups") or [] %}{% set cons = v.domain.get("constraints") or [] %}
{% if groups or cons %}<p>Every input also meets these (a proof may rest on them):</p><ul>
{% for g in groups %}<li>one-hot group: exactly one of {% for n in g %}<code>{{ n }}</code>{% if not loop.last %}, {% endif %}{% endfor %} is 1</li>{% endfor %}
{% for c in cons %}<li>constraint: <code>{% for n, a in c.coefficients.items() %}{% if not loop.first %} + {% endif %}{{ a }}·{{ n }}{% endfor %} {{ c.op }} {{ c.rhs }}</code></li>{% endfor %}
</ul>{% else %}<p class="note">No one-hot group and no linear constraint: every combination of the values above is an input.</p>{% endif %}
</details>
{% endif %}
{% endif %}
</section>

{# ------------------------------------------------------------------ 9. disaggregated #}
{% set g = s.disaggregated %}
<section id="disaggregated">
<h2>9. {{ titles.disaggregated }}</h2>
{% if g.attributes %}
<p>Positive class{{ "es" if g.positive_classes | length > 1 else "" }}: {{ g.positive_classes | join(", ") }}.
 Selection rate: {{ g.definitions.selection_rate }}; TPR: {{ g.definitions.tpr }}; FPR: {{ g.definitions.fpr }};
 gap: {{ g.definitions.gap }}. Groups with fewer than {{ g.min_group_size }} rows are flagged small. In
 brackets: 95 % Wilson intervals, the range of rates the group's rows are consistent with; where the intervals
 of two groups overlap, their gap may be chance.</p>
{% for a in g.attributes %}
<h3>{{ a.name }}</h3>
<p class="note">{% if a.grouping.binned %}Numeric, cut into groups: {{ a.grouping.method }}; cut points {{ a.grouping.cut_points | join(", ") }}
 (“[a, b)” holds a ≤ x &lt; b).{% else %}Each value is a group ({{ a.grouping.kind }}).{% endif %}</p>
{% for mt in a.metrics %}
<table><thead><tr><th>group</th><th class="n">rows</th><th class="n">share</th><th class="n">positives</th><th class="n">selection rate</th>
<th class="n">TPR</th><th class="n">FPR</th><th class="n">accuracy</th></tr></thead><tbody>
{% for row in mt.groups %}
<tr><td>{{ row.group }}{% if row.small %} <span class="flag">small</span>{% endif %}</td><td class="n">{{ row.n | num }}</td><td class="n">{{ row.share | pct }}</td>
<td class="n">{{ row.n_positive | num }}</td><td class="n">{{ row.selection_rate | pct }} <span class="note">{{ row.get("selection_rate_ci") | ci }}</span></td>
<td class="n">{{ row.tpr | pct }} <span class="note">{{ row.get("tpr_ci") | ci }}</span></td>
<td class="n">{{ row.fpr | pct }} <span class="note">{{ row.get("fpr_ci") | ci }}</span></td>
<td class="n">{{ row.accuracy | pct }} <span class="note">{{ row.get("accuracy_ci") | ci }}</span></td></tr>
{% endfor %}
</tbody></table>
<table><thead><tr><th>positive class {{ mt.positive_class }}</th><th class="n">max gap</th><th>highest</th><th>lowest</th></tr></thead><tbody>
{% for key, name in [("selection_rate", "selection rate"), ("tpr", "TPR"), ("fpr", "FPR"), ("accuracy", "accuracy")] %}
<tr><th>{{ name }}</th><td class="n">{{ mt.gaps[key].gap | pct }}</td><td>{{ mt.gaps[key].max_group }}</td><td>{{ mt.gaps[key].min_group }}</td></tr>
{% endfor %}
<tr><th>selection-rate ratio</th><td class="n">{{ mt.selection_rate_ratio | num }}</td><td colspan="2" class="note">smallest over largest</td></tr>
{% if mt.selection_rate_ratio_large_groups is defined %}<tr><th>ratio, groups not small</th><td class="n">{{ mt.selection_rate_ratio_large_groups | num }}</td><td colspan="2" class="note">smallest over largest, groups of at least {{ g.min_group_size }} rows</td></tr>{% endif %}
</tbody></table>
{% endfor %}
{% if plots.groups[loop.index0] %}
<figure><img alt="Rates by group of {{ a.name }}" src="{{ plots.groups[loop.index0] }}">
<figcaption>Selection rate, TPR and FPR per group of {{ a.name }} (positive class {{ a.metrics[0].positive_class }}).</figcaption></figure>
{% endif %}
{% endfor %}
{% endif %}
{% for n in g.notes %}<p class="note">{{ n }}</p>{% endfor %}
</section>

{# ------------------------------------------------------------------ 10. limitations #}
{% set l = s.limitations %}
<section id="limitations">
<h2>10. {{ titles.limitations }}</h2>
<ul class="limits">
{% for it in l["items"] %}<li><span class="kind">{{ it.kind }}</span> {{ it.text }}</li>
{% endfor %}
</ul>
</section>
</main>
</body>
</html>
"""
