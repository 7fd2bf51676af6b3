//! The key-age chart: a histogram of key ages, drawn as inline SVG from the numbers.

use super::*;

/// The key-age buckets of the histogram: label and inclusive upper bound in days.
pub const AGE_BUCKETS: [(&str, Option<i64>); 5] = [
    ("0–30 days", Some(30)),
    ("31–90 days", Some(90)),
    ("91–180 days", Some(180)),
    ("181–365 days", Some(365)),
    ("> 365 days", None),
];

#[derive(Clone, Debug)]
pub struct AgeHistogram {
    pub buckets: Vec<AgeBucket>,
    /// Keys with no creation date (root keys never rotated), not in any bucket.
    pub undated: usize,
    /// The chart, as SVG markup built from the numbers above.
    pub svg: String,
}

#[derive(Clone, Debug)]
pub struct AgeBucket {
    pub label: &'static str,
    pub active: usize,
    pub inactive: usize,
}

pub(super) fn histogram(keys: &[KeyEntry], as_of: DateTime<Utc>) -> AgeHistogram {
    let mut buckets: Vec<AgeBucket> = AGE_BUCKETS
        .iter()
        .map(|(label, _)| AgeBucket {
            label,
            active: 0,
            inactive: 0,
        })
        .collect();
    let mut undated = 0;
    for k in keys {
        let Some(age) = k.created().map(|c| whole_days(as_of - c)) else {
            undated += 1;
            continue;
        };
        let i = AGE_BUCKETS
            .iter()
            .position(|(_, max)| max.is_none_or(|m| age <= m))
            .unwrap_or(AGE_BUCKETS.len() - 1);
        match k.status() {
            KeyStatus::Active => buckets[i].active += 1,
            KeyStatus::Inactive => buckets[i].inactive += 1,
        }
    }
    let svg = histogram_svg(&buckets);
    AgeHistogram {
        buckets,
        undated,
        svg,
    }
}

/// A stacked bar chart of key ages. Only numbers and the fixed bucket labels go into it.
pub(super) fn histogram_svg(buckets: &[AgeBucket]) -> String {
    use std::fmt::Write;
    const W: u32 = 640;
    const H: u32 = 240;
    const LEFT: u32 = 48;
    const RIGHT: u32 = 16;
    const TOP: u32 = 28;
    const BOTTOM: u32 = 44;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let max = buckets
        .iter()
        .map(|b| b.active + b.inactive)
        .max()
        .unwrap_or(0);
    let scale_max = nice_ceiling(max.max(1));
    let slot = plot_w as f64 / buckets.len() as f64;
    let bar_w = slot * 0.56;
    let y_of = |n: usize| TOP as f64 + plot_h as f64 * (1.0 - n as f64 / scale_max as f64);
    let mut s = String::new();
    let total: usize = buckets.iter().map(|b| b.active + b.inactive).sum();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-labelledby="age-chart-title"><title id="age-chart-title">Access key age distribution: {total} keys by age, active and inactive</title>"#
    );
    for i in 0..=4u32 {
        let n = scale_max * i as usize / 4;
        let y = y_of(n);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{n}</text>"#,
            W - RIGHT,
            LEFT - 8,
            y + 4.0
        );
    }
    for (i, b) in buckets.iter().enumerate() {
        let x = LEFT as f64 + slot * i as f64 + (slot - bar_w) / 2.0;
        let y_active = y_of(b.active);
        let y_total = y_of(b.active + b.inactive);
        let base = y_of(0);
        if b.active > 0 {
            let _ = write!(
                s,
                r#"<rect class="bar-active" x="{x:.1}" y="{y_active:.1}" width="{bar_w:.1}" height="{:.1}"><title>{}: {} active</title></rect>"#,
                base - y_active,
                b.label,
                b.active
            );
        }
        if b.inactive > 0 {
            let _ = write!(
                s,
                r#"<rect class="bar-inactive" x="{x:.1}" y="{y_total:.1}" width="{bar_w:.1}" height="{:.1}"><title>{}: {} inactive</title></rect>"#,
                y_active - y_total,
                b.label,
                b.inactive
            );
        }
        let cx = x + bar_w / 2.0;
        let _ = write!(
            s,
            r#"<text class="value" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="label" x="{cx:.1}" y="{}" text-anchor="middle">{}</text>"#,
            y_total - 6.0,
            b.active + b.inactive,
            H - BOTTOM + 18,
            b.label
        );
    }
    let _ = write!(
        s,
        r#"<line class="baseline" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
        W - RIGHT,
        y_of(0),
        y_of(0)
    );
    let ly = H - 10;
    let _ = write!(
        s,
        r#"<rect class="bar-active" x="{LEFT}" y="{}" width="12" height="12"/><text class="legend" x="{}" y="{ly}">Active</text><rect class="bar-inactive" x="{}" y="{}" width="12" height="12"/><text class="legend" x="{}" y="{ly}">Inactive</text></svg>"#,
        ly - 10,
        LEFT + 18,
        LEFT + 80,
        ly - 10,
        LEFT + 98
    );
    s
}

/// The smallest "round" number (1, 2, 5 × 10^n, or a multiple of 4 below 10) at or above `n`,
/// so the four gridlines land on whole numbers.
pub(super) fn nice_ceiling(n: usize) -> usize {
    if n <= 4 {
        return 4;
    }
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            let candidate = 4 * m * step;
            if candidate >= n {
                return candidate;
            }
        }
        step *= 10;
    }
}
