//! The evaluation chart, as the course notebooks plotted it: grouped bars of Recall@k (left)
//! and MRR@k (right), one group per cut-off and one colour per system, with the value over
//! each bar and a legend row above the panels. Drawn with plotters into `chart.png` and `chart.svg`; the text is
//! set in DejaVu Sans, embedded in the binary, so the PNG looks the same on a machine
//! without fonts.

use crate::report::EvalReport;
use plotters::coord::Shift;
use plotters::prelude::*;
use retune_metrics::Metric;
use std::path::{Path, PathBuf};
use std::sync::Once;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 560;
const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font compiled into the binary; a failure here would
        // only drop text, so it is reported rather than fatal.
        if plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .is_err()
        {
            eprintln!("warning: could not register the chart font; charts will have no text");
        }
    });
}

/// The panels: a title and the metrics of one family, in cut-off order.
fn panels(report: &EvalReport) -> Vec<(&'static str, Vec<(usize, Metric)>)> {
    let recall: Vec<(usize, Metric)> = report
        .metrics
        .iter()
        .filter_map(|m| match m {
            Metric::Recall(k) => Some((*k, *m)),
            _ => None,
        })
        .collect();
    let mrr: Vec<(usize, Metric)> = report
        .metrics
        .iter()
        .filter_map(|m| match m {
            Metric::Mrr(Some(k)) => Some((*k, *m)),
            _ => None,
        })
        .collect();
    [("Recall@k", recall), ("MRR@k", mrr)]
        .into_iter()
        .filter(|(_, ms)| !ms.is_empty())
        .collect()
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &EvalReport,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let panels = panels(report);
    if panels.is_empty() {
        return Ok(());
    }
    let (legend, body) = root.split_vertically(48);
    draw_legend(&legend, report).map_err(err)?;
    let areas = body.split_evenly((1, panels.len()));
    let n_sys = report.systems.len();
    let width = 0.8 / n_sys as f64;
    for (area, (title, metrics)) in areas.iter().zip(&panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(*title, ("sans-serif", 26))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..(metrics.len() as f64 - 0.5), 0f64..1.1f64)
            .map_err(err)?;
        let labels: Vec<String> = metrics.iter().map(|(k, _)| format!("@{k}")).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(metrics.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_desc("score")
            .light_line_style(WHITE)
            .y_label_formatter(&|y| format!("{y:.1}"))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
            .map_err(err)?;
        for s in 0..n_sys {
            let color = COLORS[s % COLORS.len()];
            let bars: Vec<(f64, f64, f64)> = metrics
                .iter()
                .enumerate()
                .map(|(g, (_, m))| {
                    let x0 = g as f64 - 0.4 + s as f64 * width;
                    (x0, x0 + width * 0.92, report.value(s, *m))
                })
                .collect();
            chart
                .draw_series(
                    bars.iter()
                        .map(|&(x0, x1, v)| Rectangle::new([(x0, 0.0), (x1, v)], color.filled())),
                )
                .map_err(err)?;
            chart
                .draw_series(bars.iter().map(|&(x0, x1, v)| {
                    Text::new(
                        format!("{v:.2}"),
                        ((x0 + x1) / 2.0 - width * 0.3, v + 0.06),
                        ("sans-serif", 14),
                    )
                }))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

/// One row above the panels: a colour swatch and the name of each system, left to right.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    report: &EvalReport,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = TextStyle::from(("sans-serif", 18).into_font());
    let mut x = 80i32;
    for (s, sys) in report.systems.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        area.draw(&Rectangle::new([(x, 18), (x + 18, 36)], color.filled()))?;
        area.draw(&Text::new(sys.name.clone(), (x + 26, 19), font.clone()))?;
        let (w, _) = area.estimate_text_size(&sys.name, &font)?;
        x += 26 + w as i32 + 36;
    }
    Ok(())
}

/// Draws the chart into `dir/chart.png` and `dir/chart.svg`; returns both paths.
pub fn write_charts(report: &EvalReport, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    register_fonts();
    let png = dir.join("chart.png");
    let svg = dir.join("chart.svg");
    {
        let root = BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, report).map_err(|e| anyhow::anyhow!("{}: {e}", png.display()))?;
    }
    {
        let root = SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, report).map_err(|e| anyhow::anyhow!("{}: {e}", svg.display()))?;
    }
    Ok(vec![png, svg])
}
