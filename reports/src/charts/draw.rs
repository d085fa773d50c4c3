//! Each chart, drawn with plotters on either backend from [`ChartData`]:
//! which series, in which colours, on which axes.

use plotters::{coord::Shift, prelude::*, series::DashedLineSeries};

use super::{
    Chart, ChartData, ChartError, FAMILY,
    frame::{
        AXIS, BLUE, INK, Key, MUTED, ORANGE, PALETTE, PURPLE, RED, SERVICE_GREY, TEAL, builder,
        columns, heading, line_or_band, mesh, ms_label, percent_label, percentile_colour,
        time_chart,
    },
    series::{self, bounds, nice_ceiling},
};
use crate::{
    results::{BudgetMetric, GeneratorStats},
    spectrum, units,
};

/// Draws `chart` on `root`, on white.
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
    chart: Chart,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    match chart {
        Chart::Latency => draw_latency(root, data),
        Chart::Throughput => draw_throughput(root, data),
        Chart::Users => draw_users(root, data),
        Chart::Generator => draw_generator(root, data),
        Chart::Percentiles => draw_percentiles(root, data),
        Chart::Server => draw_server(root, data),
    }
}

fn draw_latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let series = [
        (BudgetMetric::P50, &data.p50, 2),
        (BudgetMetric::P95, &data.p95, 1),
        (BudgetMetric::P99, &data.p99, 1),
    ];
    // Log-scaled: a p50 of a few ms, budgets of hundreds and a timeout
    // spike of seconds all stay readable on one chart.
    let values = || {
        series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .chain(data.service_p99.iter().map(|p| p.1))
            .chain(data.latency_budgets.iter().map(|b| b.1))
            .filter(|v| *v > 0.0)
    };
    let (low, high) = bounds(values());
    let mut keys: Vec<Key> = series
        .iter()
        .map(|(metric, _, width)| Key::line(metric.label(), percentile_colour(*metric), *width))
        .collect();
    if !data.service_p99.is_empty() {
        keys.push(Key::line(data.service_label, SERVICE_GREY, 1));
    }
    keys.extend(data.latency_budgets.iter().map(|(metric, _)| {
        Key::dashed(
            format!("{} budget", metric.label()),
            percentile_colour(*metric),
        )
    }));
    let mut chart = time_chart(
        root,
        data,
        Chart::Latency.title(),
        &keys,
        (low / 1.5..high * 1.5).log_scale(),
        &ms_label,
    )?;
    let columns = columns(&chart);
    for (metric, points, width) in series {
        // Log axis: only positive values can be placed.
        line_or_band(
            &mut chart,
            points,
            columns,
            percentile_colour(metric),
            width,
            true,
        )?;
    }
    // On a schedule the percentiles count from the due time, on a pace they
    // are corrected; the raw line beside them shows how much of a stall
    // the load would have hidden.
    if !data.service_p99.is_empty() {
        line_or_band(
            &mut chart,
            &data.service_p99,
            columns,
            SERVICE_GREY,
            1,
            true,
        )?;
    }
    for &(metric, limit) in &data.latency_budgets {
        chart.draw_series(DashedLineSeries::new(
            [(0.0, limit), (data.duration, limit)],
            8,
            5,
            percentile_colour(metric).stroke_width(2),
        ))?;
    }
    Ok(())
}

fn draw_throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let highest = data
        .requests
        .iter()
        .chain(&data.server_rps)
        .map(|p| p.1)
        .fold(0.0f64, f64::max);
    let y_max = nice_ceiling(highest * 1.05).max(1.0);
    let mut keys = vec![
        Key::line("requests/s", BLUE, 2),
        Key::line("errors/s", RED, 2),
    ];
    if !data.server_rps.is_empty() {
        keys.push(Key::line("server-counted/s", PURPLE, 2));
    }
    let mut chart = time_chart(
        root,
        data,
        Chart::Throughput.title(),
        &keys,
        0.0..y_max,
        &|v| units::significant(*v, 3),
    )?;
    let columns = columns(&chart);
    for (points, colour, fill) in [(&data.requests, BLUE, 0.10), (&data.errors, RED, 0.25)] {
        let thin = series::area(points, columns);
        chart.draw_series(AreaSeries::new(thin, 0.0, colour.mix(fill)))?;
        line_or_band(&mut chart, points, columns, colour, 2, false)?;
    }
    // The server's own count, a step per scrape interval: where it departs
    // from the client's, one of them missed requests.
    line_or_band(&mut chart, &data.server_rps, columns, PURPLE, 2, false)?;
    Ok(())
}

fn draw_generator<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    // The fixed rule is per thread, in a share of one core; a file from
    // before version 4 has no thread figures, and no line to hold them to.
    let saturated = GeneratorStats::SATURATED_THREAD_CPU * 100.0;
    let threads = !data.generator_thread_cpu.is_empty();
    let mut keys = vec![Key::line("CPU, % of all cores", ORANGE, 2)];
    if threads {
        keys.push(Key::line("busiest thread, % of a core", RED, 2));
        keys.push(Key::dashed(
            format!("a thread saturated above {saturated}%"),
            MUTED,
        ));
    }
    let mut chart = time_chart(
        root,
        data,
        Chart::Generator.title(),
        &keys,
        0.0..100.0,
        &percent_label,
    )?;
    let columns = columns(&chart);
    let thin = series::area(&data.generator_cpu, columns);
    chart.draw_series(AreaSeries::new(thin, 0.0, ORANGE.mix(0.12)))?;
    line_or_band(&mut chart, &data.generator_cpu, columns, ORANGE, 2, false)?;
    if threads {
        line_or_band(
            &mut chart,
            &data.generator_thread_cpu,
            columns,
            RED,
            2,
            false,
        )?;
        chart.draw_series(DashedLineSeries::new(
            [(0.0, saturated), (data.duration, saturated)],
            8,
            5,
            MUTED.stroke_width(2),
        ))?;
    }
    Ok(())
}

fn draw_server<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let colour = |metric: BudgetMetric| match metric {
        BudgetMetric::MinCacheHitRatio => TEAL,
        _ => ORANGE,
    };
    let mut keys = Vec::new();
    if !data.cache_hit.is_empty() {
        keys.push(Key::line("cache hit ratio", TEAL, 2));
    }
    if !data.db_pool.is_empty() {
        keys.push(Key::line("DB pool in use", ORANGE, 2));
    }
    keys.extend(data.server_budgets.iter().map(|(metric, _)| {
        let label = match metric {
            BudgetMetric::MinCacheHitRatio => "cache hit budget",
            _ => "DB pool budget",
        };
        Key::dashed(label, colour(*metric))
    }));
    let mut chart = time_chart(
        root,
        data,
        Chart::Server.title(),
        &keys,
        // A little headroom, so a pool at 100% is not drawn on the frame.
        0.0..104.0,
        &percent_label,
    )?;
    // The hit ratio is over each interval: a step. The pool is read at
    // each scrape: a point, joined.
    let columns = columns(&chart);
    line_or_band(&mut chart, &data.cache_hit, columns, TEAL, 2, false)?;
    line_or_band(&mut chart, &data.db_pool, columns, ORANGE, 2, false)?;
    if data.db_pool.len() * 8 <= columns {
        chart.draw_series(
            data.db_pool
                .iter()
                .map(|&p| Circle::new(p, 3, ORANGE.filled())),
        )?;
    }
    for &(metric, limit) in &data.server_budgets {
        chart.draw_series(DashedLineSeries::new(
            [(0.0, limit), (data.duration, limit)],
            8,
            5,
            colour(metric).stroke_width(2),
        ))?;
    }
    Ok(())
}

fn draw_users<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let highest = data.users.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let y_max = nice_ceiling(highest * 1.15).max(1.0);
    let mut chart = time_chart(
        root,
        data,
        Chart::Users.title(),
        &[Key::line("users", TEAL, 2)],
        0.0..y_max,
        &|v| units::significant(*v, 3),
    )?;
    let columns = columns(&chart);
    let users = series::area(&data.users, columns);
    chart.draw_series(AreaSeries::new(users.iter().copied(), 0.0, TEAL.mix(0.12)))?;
    chart.draw_series(LineSeries::new(users, TEAL.stroke_width(2)))?;
    // Stage boundaries, each stage named just right of its start when it
    // is wide enough to hold its name (a 2-minute ramp of a 4-hour run
    // is not).
    let label = (FAMILY, 12).into_font().color(&MUTED);
    let nudge = data.duration * 0.004;
    let pixels_per_unit = columns as f64 / data.duration;
    for (name, start, end, _) in &data.stages {
        let room = (end - start) * pixels_per_unit;
        let needed = f64::from(root.estimate_text_size(name, &label)?.0) + 12.0;
        if *start > 0.0 {
            chart.draw_series(DashedLineSeries::new(
                [(*start, 0.0), (*start, y_max)],
                4,
                4,
                AXIS.stroke_width(1),
            ))?;
        }
        if room >= needed {
            chart.draw_series(std::iter::once(Text::new(
                name.clone(),
                (*start + nudge, y_max * 0.985),
                label.clone(),
            )))?;
        }
    }
    Ok(())
}

fn draw_percentiles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ChartData,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let (low, high) = bounds(data.spectra.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    let top = data
        .spectra
        .iter()
        .filter_map(|s| s.1.last().map(|p| p.0))
        .fold(1.0f64, f64::max);
    // Overall in thick ink, each request in a palette colour.
    let keys: Vec<Key> = data
        .spectra
        .iter()
        .enumerate()
        .map(|(i, (name, _))| match i {
            0 => Key::line(name.as_str(), INK, 3),
            _ => Key::line(name.as_str(), PALETTE[(i - 1) % PALETTE.len()], 2),
        })
        .collect();
    let heading_height = heading(root, Chart::Percentiles.title(), &keys)?;
    // Ticks on whole nines only: with one label per unit of the range,
    // plotters puts them at 0, 1, 2… (0%, 90%, 99%…).
    let mut chart = builder(root, heading_height)
        .build_cartesian_2d(0.0..top, (low / 1.3..high * 1.3).log_scale())?;
    mesh(
        &mut chart,
        &|x| spectrum::percentile_label(*x),
        &ms_label,
        top as usize + 1,
    )?;
    for ((_, curve), key) in data.spectra.iter().zip(&keys) {
        chart.draw_series(LineSeries::new(
            curve.iter().copied().filter(|p| p.1 > 0.0),
            key.colour.stroke_width(key.width),
        ))?;
    }
    Ok(())
}
