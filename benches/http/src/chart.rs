//! A horizontal bar chart as SVG, written by hand: panels of labelled bars,
//! Gimlet's in one colour and the peers' in another.

use std::fmt::Write;

/// One bar.
pub(crate) struct Bar {
    pub(crate) label: String,
    pub(crate) value: f64,
    pub(crate) gimlet: bool,
}

/// One panel: a title, a unit for the values, and its bars.
pub(crate) struct Panel {
    pub(crate) title: String,
    pub(crate) format: fn(f64) -> String,
    pub(crate) bars: Vec<Bar>,
}

const WIDTH: f64 = 760.0;
const LABEL: f64 = 300.0;
const BAR: f64 = 18.0;
const GAP: f64 = 6.0;
const TITLE: f64 = 34.0;
const GIMLET: &str = "#b5462f";
const PEER: &str = "#7d8a96";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document with `panels` one under the other.
pub(crate) fn svg(title: &str, panels: &[Panel]) -> String {
    let height: f64 = 40.0
        + panels
            .iter()
            .map(|p| TITLE + p.bars.len() as f64 * (BAR + GAP) + 16.0)
            .sum::<f64>();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="12" y="24" font-size="15" font-weight="bold">{}</text>
"#,
        escape(title)
    );
    let mut y = 40.0;
    for panel in panels {
        let _ = writeln!(
            out,
            r#"<text x="12" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            y + 20.0,
            escape(&panel.title)
        );
        y += TITLE;
        let max = panel.bars.iter().map(|b| b.value).fold(0.0, f64::max);
        let room = WIDTH - LABEL - 90.0;
        for bar in &panel.bars {
            let length = if max > 0.0 {
                bar.value / max * room
            } else {
                0.0
            };
            let colour = if bar.gimlet { GIMLET } else { PEER };
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{LABEL}" y="{y}" width="{length:.1}" height="{BAR}" fill="{colour}"/><text x="{}" y="{}">{}</text>"#,
                LABEL - 8.0,
                y + BAR - 5.0,
                escape(&bar.label),
                LABEL + length + 6.0,
                y + BAR - 5.0,
                escape(&(panel.format)(bar.value)),
            );
            y += BAR + GAP;
        }
        y += 16.0;
    }
    out.push_str("</svg>\n");
    out
}
