//! Plots (SVG: no fonts needed at run time): training loss and dev F1 per epoch.

use lightner::train::EpochLog;
use plotters::prelude::*;
use std::path::Path;

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e}")
}

/// Two panels side by side: mean training loss per epoch, and dev micro-F1 where evaluated. The
/// SVG is rendered in memory and written atomically.
pub fn training_curves(path: &Path, history: &[EpochLog]) -> anyhow::Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(450);
        let n = history.len().max(1) as f64;
        let max_loss = history.iter().map(|l| l.loss).fold(0.0f64, f64::max).max(1e-6) * 1.05;
        let mut c = ChartBuilder::on(&left)
            .caption("training loss", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0.5..n + 0.5, 0.0..max_loss)
            .map_err(err)?;
        c.configure_mesh().x_desc("epoch").y_desc("loss").draw().map_err(err)?;
        c.draw_series(LineSeries::new(history.iter().map(|l| (l.epoch as f64 + 1.0, l.loss)), &BLUE))
            .map_err(err)?;
        let mut c = ChartBuilder::on(&right)
            .caption("dev micro-F1", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0.5..n + 0.5, 0.0..1.0)
            .map_err(err)?;
        c.configure_mesh().x_desc("epoch").y_desc("F1").draw().map_err(err)?;
        let f1: Vec<(f64, f64)> =
            history.iter().filter_map(|l| l.dev.map(|d| (l.epoch as f64 + 1.0, d.f1))).collect();
        c.draw_series(LineSeries::new(f1.clone(), &RED)).map_err(err)?;
        c.draw_series(f1.iter().map(|&p| Circle::new(p, 3, RED.filled()))).map_err(err)?;
        root.present().map_err(err)?;
    }
    lightner::io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}
