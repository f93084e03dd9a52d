//! The report's SVG chart, drawn with `plotters`: for every scenario a group of bars, one per
//! target — throughput above (MiB/s of the upstream's bodies, log scale) and p99 latency below (ms, log scale).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Row;

const COLOURS: [RGBColor; 4] = [
    RGBColor(120, 120, 120),
    RGBColor(0, 150, 136),
    RGBColor(66, 133, 244),
    RGBColor(219, 68, 55),
];

/// Draws the chart into `path`.
pub fn draw(rows: &[Row], path: &Path) -> Result<(), String> {
    let mut scenarios: Vec<&str> = Vec::new();
    let mut targets: Vec<&str> = Vec::new();
    for r in rows {
        if !scenarios.contains(&r.scenario) {
            scenarios.push(r.scenario);
        }
        if !targets.contains(&r.target) {
            targets.push(r.target);
        }
    }
    let root = SVGBackend::new(path, (1200, 940)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (charts, legend) = root.split_vertically(900);
    let (top, bottom) = charts.split_vertically(450);
    panel(
        &top,
        rows,
        &scenarios,
        &targets,
        "throughput (MiB/s of upstream bodies, log scale)",
        |r| r.input_mib_per_s,
    )?;
    panel(
        &bottom,
        rows,
        &scenarios,
        &targets,
        "p99 latency (ms, log scale)",
        |r| r.report.ms(0.99),
    )?;
    // The legend: one coloured box and name per target, in a strip under the panels.
    let font = ("sans-serif", 16).into_font();
    for (t, target) in targets.iter().enumerate() {
        let x = 80 + t as i32 * 240;
        let colour = COLOURS[t % COLOURS.len()];
        legend
            .draw(&Rectangle::new([(x, 12), (x + 16, 28)], colour.filled()))
            .map_err(|e| e.to_string())?;
        legend
            .draw(&Text::new(target.to_string(), (x + 24, 12), font.clone()))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    rows: &[Row],
    scenarios: &[&str],
    targets: &[&str],
    title: &str,
    value: impl Fn(&Row) -> f64,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let values: Vec<f64> = rows.iter().map(&value).filter(|v| *v > 0.0).collect();
    let lo = values.iter().cloned().fold(f64::MAX, f64::min).min(1.0) / 2.0;
    let hi = values.iter().cloned().fold(0.0, f64::max).max(1.0) * 8.0;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(10)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..scenarios.len() as f64, (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_x_axis()
        .y_label_formatter(&|v| {
            if *v >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        })
        .draw()
        .map_err(err)?;
    let width = 0.8 / targets.len().max(1) as f64;
    for (t, target) in targets.iter().enumerate() {
        let colour = COLOURS[t % COLOURS.len()];
        let bars: Vec<Rectangle<(f64, f64)>> = scenarios
            .iter()
            .enumerate()
            .filter_map(|(s, scenario)| {
                let row = rows
                    .iter()
                    .find(|r| r.target == *target && r.scenario == *scenario)?;
                let v = value(row);
                (v > 0.0).then(|| {
                    let x = s as f64 + 0.1 + t as f64 * width;
                    Rectangle::new([(x, lo), (x + width * 0.9, v)], colour.filled())
                })
            })
            .collect();
        chart.draw_series(bars).map_err(err)?;
    }
    let style =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    chart
        .draw_series(scenarios.iter().enumerate().map(|(s, name)| {
            Text::new(name.to_string(), (s as f64 + 0.5, hi / 1.05), style.clone())
        }))
        .map_err(err)?;
    Ok(())
}
