"""The HTML form of an audit report: one self-contained page.

Jinja2 renders :data:`rulekd.audit._template.TEMPLATE` with autoescaping on,
so every user-provided string (feature names, class labels, rule text, group
names, titles) is escaped; ``://`` in any rendered value is written
``&#58;//``, so the page's source holds no URL even when a data set's
description quotes one. Plots are drawn with matplotlib's Agg canvas (no
pyplot, the user's backend is untouched) and embedded as PNG data URIs. The
page has no script and a Content-Security-Policy that forbids loading
anything.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from typing import Any

from ..exceptions import require

__all__ = ["render_html", "plots"]


# -- formatting filters ------------------------------------------------------------------
def _pct(v: Any, digits: int = 1) -> str:
    if v is None or isinstance(v, str):
        return "—" if v is None else v
    return f"{100 * float(v):.{digits}f} %"


def _ci(v: Any) -> str:
    """A 95 % interval [lo, hi] as "(lo–hi %)"; nothing for a report without one (written before them)."""
    if not isinstance(v, (list, tuple)) or len(v) != 2 or any(not isinstance(x, (int, float)) for x in v):
        return ""
    return f"({100 * float(v[0]):.1f}–{100 * float(v[1]):.1f} %)"


def _num(v: Any, digits: int = 3) -> str:
    if v is None or isinstance(v, str):
        return "—" if v is None else v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    v = float(v)
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if math.isfinite(v) and v != 0 and (abs(v) >= 1e6 or abs(v) < 10 ** -digits):
        return f"{v:.{digits}g}"
    return f"{v:,.{digits}f}"


def _secs(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _yesno(v: Any) -> str:
    return "—" if v is None else ("yes" if v else "no")


def _value(v: Any) -> str:
    if v is None:
        return "missing"
    if isinstance(v, float) and v.is_integer():
        return repr(v)
    return str(v)


def _cex(c: Any) -> str:
    """A counterexample as ``feature = value; ...`` (``x`` / ``x'`` for the two-input properties)."""
    if not c:
        return "—"
    if set(c) == {"x", "x_prime"}:
        return f"x: {_cex(c['x'])}  ·  x′: {_cex(c['x_prime'])}"
    return "; ".join(f"{k} = {_value(v)}" for k, v in c.items())


def _params(d: Any) -> str:
    if not d:
        return "—"
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in d.items())


# -- plots ------------------------------------------------------------------------------
class _Canvas:
    """A matplotlib Figure on an Agg canvas, saved as a PNG data URI."""

    def __init__(self, width: float = 6.0, height: float = 4.0, **subplots: Any):
        require("matplotlib", "report")
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        FigureCanvasAgg(self.fig)
        self.axes = self.fig.subplots(**subplots) if subplots else self.fig.subplots()

    def data_uri(self) -> str:
        buf = io.BytesIO()
        with warnings.catch_warnings():
            # A label in a script no installed font has (Chinese without a CJK font) is drawn as boxes; the
            # report's tables carry the text. Not a warning per glyph, naming rulekd's source lines.
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            # No "Software" text chunk: the PNG carries no URL and no version string.
            self.fig.savefig(buf, format="png", metadata={"Software": None})
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _rc() -> Any:
    import matplotlib

    # Labels come from users: never parse "$...$" as mathtext; glyphs DejaVu Sans lacks are drawn from an
    # installed CJK font where there is one (matplotlib falls back along the family list).
    return matplotlib.rc_context({"text.parse_math": False, "font.size": 9, "axes.spines.top": False,
                                  "axes.spines.right": False, "font.family": _font_family()})


# Fonts with Chinese, Japanese and Korean glyphs, tried after DejaVu Sans where installed.
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei",
              "SimHei", "PingFang SC", "Hiragino Sans GB", "Arial Unicode MS")


def _font_family() -> list[str]:
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return ["DejaVu Sans"] + [f for f in _CJK_FONTS if f in have]


def _reliability_plot(perf: dict) -> str | None:
    curves = [(who, perf.get(who)) for who in ("model", "teacher")]
    curves = [(w, p["reliability"]) for w, p in curves if p and p.get("reliability") and p["reliability"]["bins"]]
    if not curves:
        return None
    c = _Canvas(6.0, 5.0, nrows=2, sharex=True, height_ratios=[3, 1])
    ax, hx = c.axes
    ax.plot([0, 1], [0, 1], linestyle=":", color="#888888", label="perfectly calibrated")
    styles = {"model": dict(color="#1f5fa8", marker="o"), "teacher": dict(color="#c0612b", marker="s")}
    for who, rel in curves:
        xs = [b["mean_predicted"] for b in rel["bins"]]
        ys = [b["observed"] for b in rel["bins"]]
        ax.plot(xs, ys, label=f"{who} (ECE {rel['ece']:.3f})", **styles[who])
        width = 1.0 / rel["n_bins"]
        offset = -width / 4 if who == "model" else width / 4
        hx.bar([(b["lower"] + b["upper"]) / 2 + offset for b in rel["bins"]], [b["count"] for b in rel["bins"]],
               width=width / 2, color=styles[who]["color"], alpha=0.7)
    kind = curves[0][1]["kind"]
    ax.set_ylabel("observed share" if kind == "binary" else "share correct")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"Reliability ({curves[0][1]['what']})")
    ax.legend(loc="upper left")
    hx.set_xlabel("predicted probability" if kind == "binary" else "top-label confidence")
    hx.set_ylabel("rows")
    return c.data_uri()


def _transparency_plot(trans: dict) -> str | None:
    curve = trans.get("curve")
    if not curve:
        return None
    c = _Canvas(6.0, 4.0)
    ax = c.axes
    pts = list(curve)  # in the model's order (a hybrid: prefixes of its rule order)
    xs = [r.get("transparency") for r in pts]
    for col, style in (("accuracy", dict(color="#1f5fa8", marker="o", label="hybrid accuracy")),
                       ("rule_accuracy", dict(color="#2a8a4a", marker="^", linestyle="--",
                                              label="accuracy on rows the rules answer")),
                       ("student_accuracy", dict(color="#c0612b", marker="v", linestyle="--",
                                                 label="accuracy on rows the student answers"))):
        ys = [r.get(col) for r in pts]
        keep = [(x, v) for x, v in zip(xs, ys) if x is not None and isinstance(v, (int, float))]
        if keep:
            ax.plot([k[0] for k in keep], [k[1] for k in keep], **style)
    t = trans.get("transparency")
    if t is not None:
        ax.axvline(t, color="#555555", linestyle=":", label=f"this model on these rows ({100 * t:.0f} %)")
    ax.set_xlabel("transparency (share of rows answered by rules)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(-0.02, 1.02)
    ax.set_title("Transparency against accuracy")
    ax.legend(loc="best")
    return c.data_uri()


def _group_plot(attr: dict) -> str | None:
    if not attr["metrics"]:
        return None
    m = attr["metrics"][0]
    groups = m["groups"]
    if not groups:
        return None
    c = _Canvas(max(5.0, min(12.0, 1.2 * len(groups) + 2)), 3.6)
    ax = c.axes
    names = [str(g["group"]) for g in groups]
    metrics = (("selection_rate", "selection rate", "#1f5fa8"), ("tpr", "TPR", "#2a8a4a"),
               ("fpr", "FPR", "#c0612b"))
    width = 0.8 / len(metrics)
    for i, (key, lab, color) in enumerate(metrics):
        xs = [k + (i - 1) * width for k in range(len(groups))]
        ys = [g[key] if g[key] is not None else 0.0 for g in groups]
        ax.bar(xs, ys, width=width, label=lab, color=color)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([n if len(n) <= 24 else n[:21] + "..." for n in names], rotation=20, ha="right")
    ax.set_ylim(0, 1.18)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("rate")
    ax.set_title(f"{attr['name']} (positive class {m['positive_class']!s})")
    ax.legend(loc="upper right", ncols=3)
    return c.data_uri()


def plots(doc: dict) -> dict:
    """Every plot of the report as a PNG data URI (``None`` where there is nothing to draw)."""
    s = doc["sections"]
    with _rc():
        return {
            "reliability": _reliability_plot(s["performance"]),
            "transparency": _transparency_plot(s["transparency"]),
            "groups": [_group_plot(a) for a in s["disaggregated"]["attributes"]],
        }


# -- rendering -----------------------------------------------------------------------------
# Bidirectional controls in a name or level could reorder the text a reviewer reads (a rule's condition
# shown backwards): they are shown as their escapes.
_BIDI_SHOWN = {c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def _environment() -> Any:
    jinja2 = require("jinja2", "report")
    from markupsafe import Markup, escape

    def finalize(v: Any) -> Any:
        if v is None:
            return "—"
        return Markup(str(escape(v)).replace("://", "&#58;//").translate(_BIDI_SHOWN))

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, finalize=finalize,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=_pct, ci=_ci, num=_num, secs=_secs, yesno=_yesno, cex=_cex, params=_params, value=_value)
    return env


def render_html(doc: dict) -> str:
    """The report ``doc`` (an audit JSON document) as one self-contained HTML page."""
    from ._template import TEMPLATE

    env = _environment()
    require("matplotlib", "report")
    import jinja2

    template = env.from_string(TEMPLATE)
    s = doc["sections"]
    try:
        return template.render(doc=doc, s=s, order=doc["section_order"],
                               titles=doc.get("section_titles") or {k: k for k in doc["section_order"]},
                               plots=plots(doc))
    except (jinja2.UndefinedError, KeyError, TypeError, AttributeError) as exc:  # an edited or older document
        raise ValueError(f"This audit report cannot be rendered as HTML: a field the page shows is missing or of "
                         f"another type ({exc}). Render the JSON report that audit() wrote, unedited, or audit "
                         f"again.") from None
