//! The trend chart: open findings by severity over the runs of a history folder, drawn as
//! inline SVG from the numbers.

use crate::baseline::TrendPoint;

use super::chart::nice_ceiling;

#[derive(Clone, Debug)]
pub struct TrendChart {
    pub svg: String,
    /// "From 12 open findings on 2026-10-01 to 7 on 2026-11-26".
    pub caption: String,
}

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// The chart of `points` (oldest first, this run last). Only numbers, dates and fixed words
/// go into the markup.
pub fn trend_chart(points: &[TrendPoint]) -> TrendChart {
    use std::fmt::Write;
    const W: f64 = 640.0;
    const H: f64 = 270.0;
    const LEFT: f64 = 96.0;
    const RIGHT: f64 = 96.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 76.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let max = points
        .iter()
        .flat_map(|p| p.open.iter().copied())
        .max()
        .unwrap_or(0);
    let scale = nice_ceiling(max.max(1)) as f64;
    let n = points.len();
    let x_of = |i: usize| {
        if n <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y_of = |v: usize| TOP + plot_h * (1.0 - v as f64 / scale);
    let date = |p: &TrendPoint| p.as_of.format("%Y-%m-%d").to_string();
    let mut s = String::new();
    let (first, last) = (points.first(), points.last());
    let _ = write!(
        s,
        r#"<svg class="chart trend" id="trend-chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-labelledby="trend-chart-title"><title id="trend-chart-title">Open findings by severity over {n} runs</title>"#
    );
    // Gridlines without numbers: the first and last values are labelled instead.
    for i in 0..=4u32 {
        let y = y_of((scale as usize) * i as usize / 4);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/>"#,
            W - RIGHT
        );
    }
    for (sev_index, sev) in SEVERITIES.iter().enumerate() {
        let coords: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x_of(i), y_of(p.open[sev_index])))
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="trend-line trend-{sev}" data-severity="{sev}" points="{}"/>"#,
            coords.join(" ")
        );
        for (i, p) in points.iter().enumerate() {
            let _ = write!(
                s,
                r#"<circle class="trend-dot trend-{sev}{}" cx="{:.1}" cy="{:.1}" r="3"><title>{}: {} open {sev}{}</title></circle>"#,
                if p.complete { "" } else { " incomplete" },
                x_of(i),
                y_of(p.open[sev_index]),
                date(p),
                p.open[sev_index],
                if p.complete {
                    ""
                } else {
                    " (coverage incomplete)"
                }
            );
        }
    }
    // The first and last values, labelled beside the first and last points; labels that
    // would overlap are pushed apart.
    if let (Some(first), Some(last)) = (first, last) {
        for (point, x, anchor, dx, class) in [
            (first, x_of(0), "end", -8.0, "first"),
            (last, x_of(n - 1), "start", 8.0, "last"),
        ] {
            if n == 1 && class == "first" {
                continue;
            }
            let mut labels: Vec<(f64, usize, &str)> = SEVERITIES
                .iter()
                .enumerate()
                .map(|(i, sev)| (y_of(point.open[i]), point.open[i], *sev))
                .collect();
            labels.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut next_free = f64::MIN;
            for (y, value, sev) in labels {
                let y = (y + 4.0).max(next_free);
                next_free = y + 11.0;
                let _ = write!(
                    s,
                    r#"<text class="trend-value trend-{sev} value-{class}" data-severity="{sev}" x="{:.1}" y="{y:.1}" text-anchor="{anchor}">{value} {sev}</text>"#,
                    x + dx
                );
            }
        }
    }
    let base = y_of(0);
    let _ = write!(
        s,
        r#"<line class="baseline" x1="{LEFT}" x2="{:.1}" y1="{base:.1}" y2="{base:.1}"/>"#,
        W - RIGHT
    );
    if let (Some(first), Some(last)) = (first, last) {
        let _ = write!(
            s,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x_of(0),
            H - BOTTOM + 52.0,
            date(first)
        );
        if n > 1 {
            let _ = write!(
                s,
                r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x_of(n - 1),
                H - BOTTOM + 52.0,
                date(last)
            );
        }
    }
    let ly = H - 8.0;
    for (i, sev) in SEVERITIES.iter().enumerate() {
        let x = LEFT + 90.0 * i as f64;
        let _ = write!(
            s,
            r#"<line class="trend-line trend-{sev}" x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="legend" x="{:.1}" y="{ly:.1}">{sev}</text>"#,
            x + 14.0,
            ly - 4.0,
            ly - 4.0,
            x + 18.0
        );
    }
    s.push_str("</svg>");
    let caption = match (first, last) {
        (Some(f), Some(l)) if n > 1 => format!(
            "{n} runs: from {} open findings on {} to {} on {}.",
            f.total(),
            date(f),
            l.total(),
            date(l)
        ),
        (_, Some(l)) => format!(
            "The first recorded run: {} open findings on {}. Later runs add to the chart.",
            l.total(),
            date(l)
        ),
        _ => String::new(),
    };
    TrendChart { svg: s, caption }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn point(day: u32, open: [usize; 4]) -> TrendPoint {
        TrendPoint {
            as_of: Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap(),
            open,
            complete: true,
        }
    }

    #[test]
    fn the_first_and_last_values_are_labelled() {
        let chart = trend_chart(&[
            point(1, [1, 5, 9, 2]),
            point(8, [0, 4, 7, 2]),
            point(15, [0, 2, 3, 1]),
        ]);
        assert!(chart.svg.contains("over 3 runs"));
        for label in ["1 critical", "5 high", "9 medium", "2 low"] {
            assert!(chart.svg.contains(&format!(">{label}</text>")), "{label}");
        }
        for label in ["0 critical", "2 high", "3 medium", "1 low"] {
            assert!(chart.svg.contains(&format!(">{label}</text>")), "{label}");
        }
        assert_eq!(chart.svg.matches("<polyline").count(), 4);
        assert!(
            chart
                .caption
                .contains("from 17 open findings on 2026-11-01 to 6 on 2026-11-15")
        );
    }

    #[test]
    fn labels_of_equal_values_do_not_overlap() {
        let chart = trend_chart(&[point(1, [0, 0, 0, 0]), point(2, [0, 0, 0, 0])]);
        let ys: Vec<f64> = chart
            .svg
            .split("value-last\" ")
            .skip(1)
            .map(|rest| {
                let y = rest.split(" y=\"").nth(1).unwrap();
                y[..y.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(ys.len(), 4);
        for pair in ys.windows(2) {
            assert!(pair[1] - pair[0] >= 11.0, "{ys:?}");
        }
    }
}
