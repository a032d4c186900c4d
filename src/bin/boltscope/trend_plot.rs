//! `trend --plot FILE.svg`: one panel per series, database size, in-use size and live bytes over
//! time, the quota line when it is within reach of the chart (else named in the caption), and the
//! Theil-Sen growth projected from the latest backup (dashed). Drawn with `plotters`' SVG backend
//! (text as SVG text, no fonts needed).

use crate::history::when;
use boltscope::analysis::trend::{Series, DAY};
use boltscope::etcd::humanize::bytes as h;
use plotters::prelude::*;
use std::path::Path;

/// Panel size in pixels.
const PANEL: (u32, u32) = (960, 360);
/// The quota is drawn when it is at most this many times the largest value.
const QUOTA_REACH: f64 = 4.0;

/// The time `day` days after `first`, as a date, or with the time of day when the chart spans a
/// few days only.
fn date(first: i64, day: f64, short: bool) -> String {
    let t = first as f64 + day * DAY;
    let s = when(t.max(0.0) as u64);
    s.get(..if short { 16 } else { 10 }).unwrap_or_default().to_string()
}

/// Binary units for a quota, which is set in them (2 GiB, 8 GiB).
pub fn iec(b: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if b >= 1 << shift && b % (1 << shift) == 0 {
            return format!("{} {unit}", b >> shift);
        }
    }
    h(b)
}

fn caption(s: &Series, quota: u64, quota_drawn: bool) -> String {
    let rate = match s.size_bytes_per_day {
        Some(r) if r < 0.0 => format!("-{}/day", h((-r).round() as u64)),
        Some(r) => format!("+{}/day", h(r.round() as u64)),
        None => "one backup: no growth estimate".into(),
    };
    let days = match s.days_to_quota {
        Some(d) if d <= 0.0 => "quota reached".to_string(),
        Some(d) => format!("quota {} in {d:.0} days", iec(quota)),
        None => format!("quota {} not reached at this rate", iec(quota)),
    };
    let off = if quota_drawn { "" } else { " (quota off the chart)" };
    format!("{}  {rate}, {days}{off}", s.name)
}

fn panel(area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, s: &Series, quota: u64) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (Some(first), Some(last)) = (s.points.first(), s.points.last()) else { return Ok(()) };
    let t0 = first.time;
    let x = |t: i64| (t - t0) as f64 / DAY;
    let series_of = |f: &dyn Fn(&boltscope::analysis::backup_point::Measure) -> Option<u64>| -> Vec<(f64, f64)> {
        s.points.iter().filter_map(|p| Some((x(p.time), f(&p.measure)? as f64))).collect()
    };
    let size = series_of(&|m| Some(m.size));
    let in_use = series_of(&|m| m.in_use);
    let live = series_of(&|m| m.live_bytes);
    let top = size.iter().chain(&in_use).chain(&live).map(|p| p.1).fold(1.0, f64::max);
    let quota_drawn = (quota as f64) <= top * QUOTA_REACH;
    // One backup (or one instant): a day around it.
    let (x_start, mut x_end) = if last.time == first.time { (-0.5, 0.5) } else { (0.0, x(last.time)) };
    if let Some(d) = s.days_to_quota.filter(|d| quota_drawn && *d > 0.0 && *d <= 2.0 * x_end) {
        x_end = x(last.time) + d;
    }
    let short = x_end - x_start < 3.0;
    let y_top = if quota_drawn { top.max(quota as f64) * 1.08 } else { top * 1.15 };
    let mut chart = ChartBuilder::on(area)
        .caption(caption(s, quota, quota_drawn), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(84)
        .build_cartesian_2d(x_start..x_end + (x_end - x_start) * 0.02, 0f64..y_top)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|d| date(t0, *d, short))
        .y_label_formatter(&|b| h(b.max(0.0) as u64))
        .x_desc("backup time (UTC)")
        .draw()
        .map_err(|e| err(&e))?;
    type Line<'l> = (&'l str, &'l Vec<(f64, f64)>, RGBColor);
    let lines: [Line<'_>; 3] = [
        ("database size", &size, RGBColor(31, 119, 180)),
        ("in use", &in_use, RGBColor(44, 160, 44)),
        ("live bytes", &live, RGBColor(127, 127, 127)),
    ];
    for (name, pts, color) in lines {
        if pts.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(|e| err(&e))?;
    }
    if let (Some(r), Some(&(lx, ly))) = (s.size_bytes_per_day, size.last()) {
        let xe = x_end + (x_end - x_start) * 0.02;
        let end = (xe, ly + r * (xe - lx));
        let style = RGBColor(31, 119, 180).mix(0.6).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new([(lx, ly), end], 6, 4, style))
            .map_err(|e| err(&e))?
            .label("growth (Theil-Sen)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    if quota_drawn {
        let red = RGBColor(214, 39, 40);
        chart
            .draw_series(LineSeries::new([(x_start, quota as f64), (x_end * 1.02, quota as f64)], red.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(format!("quota {}", iec(quota)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| err(&e))?;
    Ok(())
}

/// Writes the chart of every series to `path`, as `compact` writes its copy: never over one of
/// `inputs`, a FIFO or a device; over an existing file only with `force`.
pub fn write(path: &Path, series: &[Series], quota: u64, inputs: &[&Path], force: bool) -> Result<(), String> {
    let panels = series.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (PANEL.0, PANEL.1 * panels)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let areas = root.split_evenly((panels as usize, 1));
        for (s, a) in series.iter().zip(&areas) {
            panel(a, s, quota)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    boltscope::compact::write_file(path, inputs, force, svg.as_bytes()).map_err(|e| e.to_string())
}
