//! Markdown tables of benchmark results, padded so they also read well in a terminal.

use crate::criterion_results::{Measurement, Throughput};

/// Horizontal alignment of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text columns such as benchmark ids.
    Left,
    /// Number columns.
    Right,
}

/// Renders a Markdown pipe table with every column padded to its widest cell.
pub fn render(headers: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|(header, _)| header.chars().count().max(3))
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let pad = |text: &str, width: usize, align: Align| match align {
        Align::Left => format!("{text:<width$}"),
        Align::Right => format!("{text:>width$}"),
    };

    let mut output = line(
        headers
            .iter()
            .zip(&widths)
            .map(|((header, align), &width)| pad(header, width, *align))
            .collect(),
    );
    let rule = headers.iter().zip(&widths).map(|((_, align), &width)| match align {
        Align::Left => "-".repeat(width),
        Align::Right => format!("{}:", "-".repeat(width - 1)),
    });
    output.push_str(&line(rule.collect()));
    for row in rows {
        let cells = headers
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, ((_, align), &width))| {
                let cell = row.get(column).map(String::as_str).unwrap_or("");
                pad(cell, width, *align)
            });
        output.push_str(&line(cells.collect()));
    }
    output
}

/// Renders the summary table of criterion results: id, median time and throughput.
pub fn measurements(measurements: &[Measurement]) -> String {
    let rows: Vec<Vec<String>> = measurements
        .iter()
        .map(|measurement| {
            let throughput = measurement
                .throughput
                .map(|throughput| format_throughput(throughput, measurement.median_ns))
                .unwrap_or_default();
            vec![
                measurement.id.clone(),
                format_duration(measurement.median_ns),
                throughput,
            ]
        })
        .collect();

    render(
        &[
            ("benchmark", Align::Left),
            ("median", Align::Right),
            ("throughput", Align::Right),
        ],
        &rows,
    )
}

/// Formats a duration in nanoseconds with three significant digits and a unit from ns to s.
pub fn format_duration(nanoseconds: f64) -> String {
    let (value, unit) = if nanoseconds < 1e3 {
        (nanoseconds, "ns")
    } else if nanoseconds < 1e6 {
        (nanoseconds / 1e3, "µs")
    } else if nanoseconds < 1e9 {
        (nanoseconds / 1e6, "ms")
    } else {
        (nanoseconds / 1e9, "s")
    };
    format!("{} {unit}", three_digits(value))
}

/// Formats the rate of `throughput` units per iteration at `median_ns` per iteration.
pub fn format_throughput(throughput: Throughput, median_ns: f64) -> String {
    let per_second = |amount: u64| amount as f64 / (median_ns / 1e9);
    match throughput {
        Throughput::Elements(amount) => format_rate(per_second(amount), 1000.0, &["", "K", "M", "G", "T"], "elem/s"),
        Throughput::Bits(amount) => format_rate(per_second(amount), 1000.0, &["", "K", "M", "G", "T"], "bit/s"),
        Throughput::BytesDecimal(amount) => format_rate(per_second(amount), 1000.0, &["", "K", "M", "G", "T"], "B/s"),
        Throughput::Bytes(amount) => format_rate(per_second(amount), 1024.0, &["", "Ki", "Mi", "Gi", "Ti"], "B/s"),
    }
}

fn format_rate(mut value: f64, step: f64, prefixes: &[&str], unit: &str) -> String {
    if !value.is_finite() {
        return format!("∞ {unit}");
    }

    let mut prefix = 0;
    while value >= step && prefix + 1 < prefixes.len() {
        value /= step;
        prefix += 1;
    }
    format!("{} {}{unit}", three_digits(value), prefixes[prefix])
}

/// Formats with two decimals below 10, one below 100 and none above.
fn three_digits(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_unit_and_precision() {
        assert_eq!(format_duration(12.345), "12.3 ns");
        assert_eq!(format_duration(1_500.0), "1.50 µs");
        assert_eq!(format_duration(41_000_000.5), "41.0 ms");
        assert_eq!(format_duration(999_400_000.0), "999 ms");
        assert_eq!(format_duration(2_345_000_000.0), "2.35 s");
    }

    #[test]
    fn throughput_is_rate_per_second() {
        // 3.3554432e9 FLOP in 41 ms is 81.8 G per second.
        assert_eq!(
            format_throughput(Throughput::Elements(3_355_443_200), 41e6),
            "81.8 Gelem/s"
        );
        // 80 images in 0.25 s.
        assert_eq!(format_throughput(Throughput::Elements(80), 250e6), "320 elem/s");
        // 2048 bytes in 1 ms is 2 MiB/s with binary prefixes and 2.05 MB/s with decimal ones.
        assert_eq!(format_throughput(Throughput::Bytes(2048), 1e6), "1.95 MiB/s");
        assert_eq!(format_throughput(Throughput::BytesDecimal(2048), 1e6), "2.05 MB/s");
        assert_eq!(format_throughput(Throughput::Bits(8), 1e9), "8.00 bit/s");
    }

    #[test]
    fn zero_time_gives_infinite_rate() {
        assert_eq!(format_throughput(Throughput::Elements(1), 0.0), "∞ elem/s");
    }

    #[test]
    fn measurement_table_aligns_columns() {
        let table = measurements(&[
            Measurement {
                id: "kernel/squared_l2/1024x1024_d1600".into(),
                median_ns: 41e6,
                throughput: Some(Throughput::Elements(3_355_443_200)),
            },
            Measurement {
                id: "loss/prototypical_forward/75x5".into(),
                median_ns: 12_345.0,
                throughput: None,
            },
        ]);

        let expected = "\
| benchmark                         |  median |   throughput |
| --------------------------------- | ------: | -----------: |
| kernel/squared_l2/1024x1024_d1600 | 41.0 ms | 81.8 Gelem/s |
| loss/prototypical_forward/75x5    | 12.3 µs |              |
";
        assert_eq!(table, expected);
    }

    #[test]
    fn render_pads_short_rows_and_short_headers() {
        let table = render(&[("id", Align::Left), ("x", Align::Right)], &[vec!["a".into()]]);

        assert_eq!(table, "| id  |   x |\n| --- | --: |\n| a   |     |\n");
    }
}
