//! The report's one charting module: inline SVG strings, no script, no fonts.
//!
//! Every chart draws one `<g class="mark">` per row of the table it is shown
//! with (the browser tests count them). Colours are the Okabe–Ito palette,
//! which stays distinguishable for the common colour-vision deficiencies;
//! nothing relies on colour alone: every bar carries its category and value
//! as text, published figures are a black diamond outline, small bases a
//! hatch pattern, and the weighting margins use three different shapes.

use std::fmt::Write as _;

/// Okabe–Ito colours, in the order series are given them.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
];
/// Colour of DK / refused / missing-type categories.
pub const GREY: &str = "#8C8C8C";

const W: f64 = 560.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 120.0;
const TOP: f64 = 22.0;
const BAR_H: f64 = 10.0;
const BAR_GAP: f64 = 2.0;
const GROUP_GAP: f64 = 8.0;

/// Escapes text for HTML and SVG (element content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Definitions shared by every chart of the page (patterns), emitted once.
pub fn defs() -> String {
    "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\" focusable=\"false\"><defs>\
     <pattern id=\"hatch\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
     <rect width=\"4\" height=\"4\" fill=\"#ffffff\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#555\" stroke-width=\"2\"/></pattern>\
     </defs></svg>"
        .to_string()
}

/// One horizontal bar with an optional interval and published figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Group label shown left of the group's first bar (e.g. the domain level).
    pub group: String,
    /// Text after the bar (e.g. the category).
    pub label: String,
    /// Colour index into [`PALETTE`]; `None` = grey (DK, refused).
    pub series: Option<usize>,
    /// Value in display units (percent or points).
    pub value: f64,
    /// Interval, display units.
    pub interval: Option<(f64, f64)>,
    /// Published figure, display units.
    pub published: Option<f64>,
    /// Hatched: a small base.
    pub flagged: bool,
}

fn nice_range(values: impl Iterator<Item = f64>, floor_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (if floor_zero { 0.0 } else { f64::INFINITY }, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 100.0);
    }
    let lo = (lo / 10.0).floor() * 10.0;
    let mut hi = (hi / 10.0).ceil() * 10.0;
    if hi <= lo {
        hi = lo + 10.0;
    }
    (lo, hi)
}

fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    let step = [10.0, 20.0, 25.0, 50.0, 100.0]
        .into_iter()
        .find(|s| span / s <= 5.0)
        .unwrap_or(100.0);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

fn open(svg: &mut String, h: f64, title: &str) {
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 {W} {h:.0}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title)
    );
}

/// A horizontal bar chart: bars grouped, value labels, interval whiskers,
/// published figures as diamonds. `unit` follows the value labels (`%`).
pub fn bar_chart(title: &str, bars: &[Bar], unit: &str) -> String {
    let (lo, hi) = nice_range(
        bars.iter().flat_map(|b| {
            [
                Some(b.value),
                b.interval.map(|i| i.0),
                b.interval.map(|i| i.1),
                b.published,
            ]
            .into_iter()
            .flatten()
        }),
        true,
    );
    let plot = W - LEFT - RIGHT;
    let x = |v: f64| LEFT + (v.clamp(lo, hi) - lo) / (hi - lo) * plot;
    let groups = bars.windows(2).filter(|w| w[0].group != w[1].group).count() + usize::from(!bars.is_empty());
    let h = TOP + bars.len() as f64 * (BAR_H + BAR_GAP) + groups as f64 * GROUP_GAP + 6.0;
    let mut s = String::with_capacity(300 * bars.len() + 600);
    open(&mut s, h, title);
    for t in ticks(lo, hi) {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2:.1}\" class=\"grid\"/>\
             <text x=\"{0:.1}\" y=\"12\" class=\"tick\" text-anchor=\"middle\">{3}</text>",
            x(t),
            TOP - 4.0,
            h - 4.0,
            t
        );
    }
    if lo < 0.0 {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2:.1}\" class=\"zero\"/>",
            x(0.0),
            TOP - 4.0,
            h - 4.0
        );
    }
    let mut y = TOP;
    let mut last_group: Option<&str> = None;
    for b in bars {
        if last_group != Some(b.group.as_str()) {
            y += GROUP_GAP;
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"glabel\" text-anchor=\"end\">{}</text>",
                LEFT - 6.0,
                y + BAR_H - 1.0,
                esc(&b.group)
            );
            last_group = Some(&b.group);
        }
        let colour = b.series.map_or(GREY, |i| PALETTE[i % PALETTE.len()]);
        let (x0, x1) = (x(0.0_f64.max(lo)), x(b.value));
        let (bx, bw) = if x1 >= x0 { (x0, x1 - x0) } else { (x1, x0 - x1) };
        let _ = write!(
            s,
            "<g class=\"mark\"><rect x=\"{bx:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{BAR_H}\" fill=\"{colour}\"/>"
        );
        if b.flagged {
            let _ = write!(
                s,
                "<rect x=\"{bx:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{BAR_H}\" fill=\"url(#hatch)\" opacity=\"0.6\"/>"
            );
        }
        let cy = y + BAR_H / 2.0;
        let mut end = x1;
        if let Some((l, u)) = b.interval {
            let _ = write!(
                s,
                "<path d=\"M{0:.1} {1:.1}V{2:.1}M{0:.1} {3:.1}H{4:.1}M{4:.1} {1:.1}V{2:.1}\" class=\"whisker\"/>",
                x(l),
                y + 1.0,
                y + BAR_H - 1.0,
                cy,
                x(u)
            );
            end = end.max(x(u));
        }
        if let Some(p) = b.published {
            let px = x(p);
            let _ = write!(s, "<path d=\"M{px:.1} {:.1}l4 5l-4 5l-4 -5z\" class=\"published\"/>", y);
            end = end.max(px + 4.0);
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"vlabel\">{} {:.1}{unit}{}</text></g>",
            end + 3.0,
            y + BAR_H - 1.5,
            esc(&b.label),
            b.value,
            if b.flagged { " †" } else { "" }
        );
        y += BAR_H + BAR_GAP;
    }
    s.push_str("</svg>");
    s
}

/// A histogram of counts over equal-width bins from `lo` to `hi`.
pub fn histogram(title: &str, lo: f64, hi: f64, counts: &[u64], colour: &str) -> String {
    let h = 150.0;
    let (left, bottom, top) = (50.0, 24.0, 10.0);
    let plot_w = W - left - 20.0;
    let plot_h = h - bottom - top;
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bw = plot_w / counts.len().max(1) as f64;
    let mut s = String::new();
    open(&mut s, h, title);
    let _ = write!(
        s,
        "<line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{0}\" class=\"axis\"/>\
         <line x1=\"{left}\" x2=\"{1}\" y1=\"{0}\" y2=\"{0}\" class=\"axis\"/>\
         <text x=\"{2}\" y=\"{3}\" class=\"tick\" text-anchor=\"end\">{4}</text>\
         <text x=\"{2}\" y=\"{0}\" class=\"tick\" text-anchor=\"end\">0</text>\
         <text x=\"{left}\" y=\"{5}\" class=\"tick\">{6}</text>\
         <text x=\"{1}\" y=\"{5}\" class=\"tick\" text-anchor=\"end\">{7}</text>",
        top + plot_h,
        left + plot_w,
        left - 4.0,
        top + 8.0,
        max as u64,
        h - 8.0,
        fmt_edge(lo),
        fmt_edge(hi)
    );
    for (i, &c) in counts.iter().enumerate() {
        let bh = c as f64 / max * plot_h;
        let _ = write!(
            s,
            "<g class=\"mark\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\" stroke=\"#fff\" stroke-width=\"0.5\"/></g>",
            left + i as f64 * bw,
            top + plot_h - bh,
            bw
        );
    }
    s.push_str("</svg>");
    s
}

/// Bin edges as printed in histogram tables and axes (4 significant digits).
pub fn fmt_edge(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// One term of a forest plot (odds-ratio scale).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Row label.
    pub label: String,
    /// Odds ratio.
    pub value: f64,
    /// Interval.
    pub interval: (f64, f64),
    /// Published odds ratio, when it is a number.
    pub published: Option<f64>,
    /// Significant at 5%: filled circle, else open.
    pub filled: bool,
}

/// A forest plot on a log scale with a reference line at 1.
pub fn forest(title: &str, points: &[Point]) -> String {
    let row = 18.0;
    let h = TOP + points.len() as f64 * row + 10.0;
    let (mut lo, mut hi) = (0.5_f64, 2.0_f64);
    for p in points {
        for v in [Some(p.value), Some(p.interval.0), Some(p.interval.1), p.published]
            .into_iter()
            .flatten()
        {
            if v.is_finite() && v > 0.0 {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    let (lo, hi) = (lo.max(0.01).log10().floor(), hi.min(100.0).log10().ceil());
    let plot = W - LEFT - 40.0;
    let x = |v: f64| LEFT + ((v.max(1e-300).log10()).clamp(lo, hi) - lo) / (hi - lo) * plot;
    let mut s = String::new();
    open(&mut s, h, title);
    for t in [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0] {
        let l: f64 = f64::log10(t);
        if l < lo - 1e-9 || l > hi + 1e-9 {
            continue;
        }
        let class = if t == 1.0 { "zero" } else { "grid" };
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2:.1}\" class=\"{class}\"/>\
             <text x=\"{0:.1}\" y=\"12\" class=\"tick\" text-anchor=\"middle\">{3}</text>",
            x(t),
            TOP - 4.0,
            h - 4.0,
            t
        );
    }
    for (i, p) in points.iter().enumerate() {
        let cy = TOP + 4.0 + i as f64 * row + row / 2.0;
        let _ = write!(
            s,
            "<g class=\"mark\"><text x=\"{:.1}\" y=\"{:.1}\" class=\"glabel\" text-anchor=\"end\">{}</text>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{cy:.1}\" y2=\"{cy:.1}\" class=\"ci\"/>\
             <circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"4\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1.5\"/>",
            LEFT - 6.0,
            cy + 4.0,
            esc(&p.label),
            x(p.interval.0),
            x(p.interval.1),
            x(p.value),
            if p.filled { PALETTE[0] } else { "#ffffff" },
            PALETTE[0]
        );
        if let Some(v) = p.published {
            let _ = write!(
                s,
                "<path d=\"M{:.1} {:.1}l5 6l-5 6l-5 -6z\" class=\"published\"/>",
                x(v),
                cy - 6.0
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}

/// One category of a raking margin: shares in percent.
#[derive(Debug, Clone, PartialEq)]
pub struct MarginRow {
    /// `variable = category`.
    pub label: String,
    /// Unweighted sample share.
    pub sample: f64,
    /// Target share, when known.
    pub target: Option<f64>,
    /// Share under the final weights.
    pub weighted: f64,
}

/// Sample (open circle), target (black bar) and weighted (filled triangle)
/// share of every margin category.
pub fn margins(title: &str, rows: &[MarginRow]) -> String {
    let row = 16.0;
    let h = TOP + rows.len() as f64 * row + 10.0;
    let (lo, hi) = nice_range(
        rows.iter()
            .flat_map(|r| [Some(r.sample), r.target, Some(r.weighted)].into_iter().flatten()),
        true,
    );
    let plot = W - LEFT - 30.0;
    let x = |v: f64| LEFT + (v.clamp(lo, hi) - lo) / (hi - lo) * plot;
    let mut s = String::new();
    open(&mut s, h, title);
    for t in ticks(lo, hi) {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2:.1}\" class=\"grid\"/>\
             <text x=\"{0:.1}\" y=\"12\" class=\"tick\" text-anchor=\"middle\">{3}</text>",
            x(t),
            TOP - 4.0,
            h - 4.0,
            t
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let cy = TOP + 4.0 + i as f64 * row + row / 2.0;
        let _ = write!(
            s,
            "<g class=\"mark\"><text x=\"{:.1}\" y=\"{:.1}\" class=\"glabel\" text-anchor=\"end\">{}</text>\
             <circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"4\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>",
            LEFT - 6.0,
            cy + 4.0,
            esc(&r.label),
            x(r.sample),
            PALETTE[1]
        );
        if let Some(t) = r.target {
            let _ = write!(
                s,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" class=\"target\"/>",
                x(t),
                cy - 6.0,
                cy + 6.0
            );
        }
        let wx = x(r.weighted);
        let _ = write!(
            s,
            "<path d=\"M{wx:.1} {:.1}l4 7h-8z\" fill=\"{}\"/></g>",
            cy - 4.0,
            PALETTE[0]
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mark_per_bar_and_text_escaped() {
        let bars = vec![
            Bar {
                group: "a<b".into(),
                label: "yes".into(),
                series: Some(0),
                value: 40.0,
                interval: Some((35.0, 45.0)),
                published: Some(50.0),
                flagged: false,
            },
            Bar {
                group: "a<b".into(),
                label: "no".into(),
                series: None,
                value: 60.0,
                interval: None,
                published: None,
                flagged: true,
            },
        ];
        let s = bar_chart("t", &bars, "%");
        assert_eq!(s.matches("class=\"mark\"").count(), 2);
        assert!(s.contains("a&lt;b") && !s.contains("a<b"));
        assert!(s.contains("yes 40.0%") && s.contains("no 60.0% †"));
        assert_eq!(s.matches("class=\"published\"").count(), 1);
    }

    #[test]
    fn ranges_and_ticks() {
        assert_eq!(nice_range([3.0, 47.0].into_iter(), true), (0.0, 50.0));
        assert_eq!(nice_range([-29.0, 47.0].into_iter(), true), (-30.0, 50.0));
        assert_eq!(ticks(0.0, 100.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    }
}
