//! Plots (SVG: no fonts needed at run time): training loss and dev F1 per epoch, and tune's F1
//! against alpha.

use lightner::train::EpochLog;
use lightner::tune::TrialSummary;
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

/// `lightner tune`'s plot: mean held-out F1 of every trial against its α, with bars of ±1 sample
/// standard deviation, one colour per combination of the other settings (lr, prompt length,
/// epochs), and the best trial ringed.
pub fn alpha_curve(path: &Path, trials: &[TrialSummary], best: &TrialSummary) -> anyhow::Result<()> {
    let key = |t: &TrialSummary| {
        format!("lr {:.0e}, L {}, {} ep", t.config.lr, t.config.prompt_len, t.config.epochs)
    };
    let mut groups: Vec<(String, Vec<&TrialSummary>)> = Vec::new();
    for t in trials.iter().filter(|t| !t.units.is_empty()) {
        match groups.iter_mut().find(|(k, _)| *k == key(t)) {
            Some((_, g)) => g.push(t),
            None => groups.push((key(t), vec![t])),
        }
    }
    let top = trials.iter().map(|t| t.mean() + t.std()).fold(0.0f64, f64::max);
    let y_max = if top <= 0.0 { 1.0 } else { (top * 1.1).min(1.0) };
    let colours = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut c = ChartBuilder::on(&root)
            .caption("held-out micro-F1 against alpha", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.03..1.03, 0.0..y_max)
            .map_err(err)?;
        c.configure_mesh()
            .x_desc("alpha (0: word embedding only, 1: hidden state only)")
            .y_desc("F1, mean ± std")
            .draw()
            .map_err(err)?;
        for (i, (name, g)) in groups.iter().enumerate() {
            let colour = colours[i % colours.len()];
            let mut pts: Vec<(f64, f64, f64)> =
                g.iter().map(|t| (t.config.alpha, t.mean(), t.std())).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            c.draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), colour))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
            c.draw_series(pts.iter().map(|&(x, m, _)| Circle::new((x, m), 3, colour.filled())))
                .map_err(err)?;
            // Error bars: a vertical segment with short caps.
            c.draw_series(pts.iter().filter(|p| p.2 > 0.0).flat_map(|&(x, m, s)| {
                let (lo, hi) = ((m - s).max(0.0), m + s);
                [
                    PathElement::new(vec![(x, lo), (x, hi)], colour),
                    PathElement::new(vec![(x - 0.008, lo), (x + 0.008, lo)], colour),
                    PathElement::new(vec![(x - 0.008, hi), (x + 0.008, hi)], colour),
                ]
            }))
            .map_err(err)?;
        }
        c.draw_series(std::iter::once(Circle::new(
            (best.config.alpha, best.mean()),
            8,
            BLACK.stroke_width(2),
        )))
        .map_err(err)?;
        if groups.len() > 1 {
            c.configure_series_labels().background_style(WHITE).border_style(BLACK).draw().map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    lightner::io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}
