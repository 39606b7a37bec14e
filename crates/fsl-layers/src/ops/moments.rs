//! Per-channel mean and variance of `N x C x H x W` data, one plane at a time.
//!
//! Each `H x W` plane gets its own mean and sum of squared deviations while it is in cache
//! (right after a convolution wrote it, in the fused Conv-4 block). The planes of a channel are
//! then merged in batch order with the pairwise update of Chan, Golub and LeVeque (1979). The
//! result depends only on the data, never on the thread schedule, and stays accurate when the
//! mean is large against the spread.

use candle_core::WithDType;
use rayon::prelude::*;

/// Independent accumulators per pass: enough for the compiler to fill the vector registers
/// and hide the latency of the additions.
const LANES: usize = 16;

/// Count, mean and sum of squared deviations of a set of values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Moments {
    pub count: f64,
    pub mean: f64,
    pub squared_deviations: f64,
}

impl Moments {
    /// Returns the moments of one plane, in two passes over it: a rough mean, then the
    /// deviations from it and their squares, which correct the mean and give the variance.
    pub fn of_plane<T: WithDType>(plane: &[T]) -> Self {
        if plane.is_empty() {
            return Self::default();
        }
        let count = plane.len() as f64;
        let centre = T::from_f64(lane_sum(plane) / count);
        let (deviations, squares) = deviation_sums(plane, centre);
        Self {
            count,
            mean: centre.to_f64() + deviations / count,
            squared_deviations: (squares - deviations * deviations / count).max(0.0),
        }
    }

    /// Returns the moments of the union of two disjoint sets.
    pub fn merge(self, other: Self) -> Self {
        if other.count == 0.0 {
            return self;
        }
        if self.count == 0.0 {
            return other;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        Self {
            count,
            mean: self.mean + delta * other.count / count,
            squared_deviations: self.squared_deviations
                + other.squared_deviations
                + delta * delta * self.count * other.count / count,
        }
    }

    /// Returns the biased variance (the mean squared deviation).
    pub fn variance(&self) -> f64 {
        self.squared_deviations / self.count
    }
}

/// Merges per-plane moments, stored image by image (`planes[n * channels + c]`), into the mean
/// and biased variance of every channel, in batch order.
pub(crate) fn merge_channels(planes: &[Moments], channels: usize) -> Vec<(f64, f64)> {
    (0..channels)
        .map(|c| {
            let merged = planes
                .iter()
                .skip(c)
                .step_by(channels)
                .fold(Moments::default(), |total, &plane| total.merge(plane));
            (merged.mean, merged.variance())
        })
        .collect()
}

/// Returns the mean and biased variance of every channel of an `N x C x H x W` tensor stored in
/// `input`, with planes of `plane` values.
pub(crate) fn channel_moments<T: WithDType>(input: &[T], channels: usize, plane: usize) -> Vec<(f64, f64)> {
    let planes: Vec<Moments> = input.par_chunks(plane.max(1)).map(Moments::of_plane).collect();
    merge_channels(&planes, channels)
}

/// Sums `values` in `LANES` independent accumulators of type `T`, then adds the lanes in f64.
fn lane_sum<T: WithDType>(values: &[T]) -> f64 {
    mapped_lane_sum(values, |v| v)
}

/// Sums `term(v)` over `values` like [`lane_sum`].
fn mapped_lane_sum<T: WithDType>(values: &[T], term: impl Fn(T) -> T) -> f64 {
    let mut lanes = [T::zero(); LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += term(v);
        }
    }
    let rest = rest.iter().map(|&v| term(v));
    lanes.into_iter().chain(rest).map(|v| v.to_f64()).sum()
}

/// Returns `Σ (v - centre)` and `Σ (v - centre)²`, accumulated like [`lane_sum`].
///
/// Two passes over a plane that is in cache: one loop accumulating both sums compiled to scalar
/// code, which took about a quarter of the first Conv-4 block's forward pass.
fn deviation_sums<T: WithDType>(values: &[T], centre: T) -> (f64, f64) {
    (
        mapped_lane_sum(values, |v| v - centre),
        mapped_lane_sum(values, |v| (v - centre) * (v - centre)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct two-pass mean and variance in f64.
    fn direct(values: &[f64]) -> (f64, f64) {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        (mean, variance)
    }

    #[test]
    fn merged_planes_give_the_channel_mean_and_variance() {
        // Two images, two channels, planes of 37 values (not a multiple of the lanes), with a
        // large offset on channel 1 so that a one-pass sum of squares would lose digits.
        let (batch, channels, plane) = (2, 2, 37);
        let input: Vec<f64> = (0..batch * channels * plane)
            .map(|i| {
                let c = i / plane % channels;
                let wobble = ((i * 7919) % 101) as f64 / 101.0;
                if c == 1 { 1e6 + wobble } else { wobble - 0.5 }
            })
            .collect();

        let moments = channel_moments(&input, channels, plane);

        for (c, &(mean, variance)) in moments.iter().enumerate() {
            let values: Vec<f64> = input
                .chunks(plane)
                .skip(c)
                .step_by(channels)
                .flatten()
                .copied()
                .collect();
            let (expected_mean, expected_variance) = direct(&values);
            assert!(
                (mean - expected_mean).abs() <= 1e-12 * expected_mean.abs().max(1.0),
                "channel {c} mean {mean}"
            );
            assert!(
                (variance - expected_variance).abs() <= 1e-9 * expected_variance,
                "channel {c} variance {variance}, expected {expected_variance}"
            );
        }
    }

    #[test]
    fn f32_plane_small_variance_large_mean() {
        // 784 values of 1000 + 0.01·k: a sum of squares in f32 would cancel to nonsense.
        let plane: Vec<f32> = (0..784).map(|k| 1000.0 + 0.01 * (k % 10) as f32).collect();
        let moments = Moments::of_plane(&plane);
        let values: Vec<f64> = plane.iter().map(|&v| f64::from(v)).collect();
        let (mean, variance) = direct(&values);

        assert!((moments.mean - mean).abs() < 1e-6, "mean {}", moments.mean);
        assert!(
            (moments.variance() - variance).abs() < 1e-3 * variance,
            "variance {}, expected {variance}",
            moments.variance()
        );
    }

    #[test]
    fn merging_with_an_empty_set_changes_nothing() {
        let plane = Moments::of_plane(&[1.0f64, 2.0, 4.0]);
        assert_eq!(plane.merge(Moments::default()), plane);
        assert_eq!(Moments::default().merge(plane), plane);
        assert_eq!(Moments::of_plane::<f64>(&[]), Moments::default());
    }
}
