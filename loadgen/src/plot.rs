//! SVG charts (`plotters`): latency by percentile for a run (`--plot`),
//! requests per second by loop count for `loadgen tune --plot`.

use std::path::Path;

use anyhow::{anyhow, Result};
use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::tune::TuneRow;

/// The highest percentile drawn: 99.999 %.
const MAX_NINES: f64 = 5.0;

/// Points (nines, milliseconds) of a latency histogram: `nines` is
/// `-log10(1 - q)`, so 1 is p90, 2 is p99, 3 is p99.9.
fn percentile_curve(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    let mut nines = 0.0;
    while nines <= MAX_NINES {
        let q = 1.0 - 10f64.powf(-nines);
        points.push((nines, histogram.value_at_quantile(q) as f64 / 1e3));
        nines += 0.05;
    }
    points
}

fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the chart: {e}")
}

/// Draws latency by percentile: `corrected`, and `uncorrected` too when
/// given (open loop).
pub fn latency_chart(
    path: &Path,
    title: &str,
    corrected: &Histogram<u64>,
    uncorrected: Option<&Histogram<u64>>,
) -> Result<()> {
    let curve = percentile_curve(corrected);
    let other = uncorrected.map(percentile_curve);
    let top = curve
        .iter()
        .chain(other.iter().flatten())
        .map(|&(_, ms)| ms)
        .fold(0.001, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..MAX_NINES, 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_labels(6)
        .x_label_formatter(&|nines| {
            let q = 100.0 * (1.0 - 10f64.powf(-nines));
            let text = format!("{q:.3}");
            format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
        })
        .draw()
        .map_err(plot_error)?;
    let label = if other.is_some() {
        "from intended send"
    } else {
        "latency"
    };
    chart
        .draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))
        .map_err(plot_error)?
        .label(label)
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    if let Some(other) = other {
        chart
            .draw_series(LineSeries::new(other, RED.stroke_width(2)))
            .map_err(plot_error)?
            .label("from actual send (uncorrected)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    }
    finish(&mut chart, &root)
}

/// Draws requests per second by loop count, one line per pinning and
/// balance combination.
pub fn scaling_chart(path: &Path, rows: &[TuneRow]) -> Result<()> {
    let max_loops = rows.iter().map(|r| r.loops).max().unwrap_or(1) as f64;
    let max_rps = rows.iter().map(|r| r.rps).fold(1.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("requests per second by loops", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..max_loops + 0.5, 0.0..max_rps)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("loops")
        .y_desc("req/s")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(plot_error)?;
    let mut keys: Vec<(bool, Option<String>)> =
        rows.iter().map(|r| (r.pin, r.balance.clone())).collect();
    keys.dedup();
    keys.sort();
    keys.dedup();
    for (i, (pin, balance)) in keys.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.pin == *pin && &r.balance == balance)
            .map(|r| (r.loops as f64, r.rps))
            .collect();
        let label = format!(
            "pin {}{}",
            if *pin { "on" } else { "off" },
            balance
                .as_deref()
                .map(|b| format!(", {b}"))
                .unwrap_or_default()
        );
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(plot_error)?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(plot_error)?;
    }
    finish(&mut chart, &root)
}

/// Draws the legend and writes the file.
fn finish<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}
