//! Random draws with fixed algorithms for episode sampling: the per-episode generator, unbiased
//! bounded integers and distinct positions by partial Fisher-Yates.
//!
//! Every algorithm here is written out rather than taken from `rand`'s distributions, so the
//! episodes of a seed depend only on this file and on the PCG generator, which `rand_pcg`
//! documents as portable and tests against reference vectors.

use std::cell::RefCell;
use std::ops::RangeInclusive;

use rand::Rng;
use rand_pcg::Pcg64Mcg;

use crate::seed::splitmix64;

/// Returns the generator of the draw identified by `seed`: PCG XSL RR 128/64 (MCG), also known
/// as `pcg64_fast`, with its 128-bit state made of two splitmix64 outputs of `seed`.
///
/// Seeding is two splitmix64 rounds and each output one 128-bit multiplication, where the
/// ChaCha12 `StdRng` computes a 256-byte block before its first output.
pub(crate) fn episode_rng(seed: u64) -> Pcg64Mcg {
    let high = splitmix64(seed);
    let low = splitmix64(high);

    Pcg64Mcg::new((u128::from(high) << 64) | u128::from(low))
}

/// Draws an integer uniformly from `0..bound` with Lemire's multiply-and-reject method
/// ("Fast random integer generation in an interval", 2019), which is unbiased and needs one
/// multiplication in the common case. `bound` must be at least 1.
#[inline]
pub(crate) fn below<R: Rng + ?Sized>(rng: &mut R, bound: usize) -> usize {
    debug_assert!(bound > 0, "an empty range has no value to draw");
    let bound = bound as u64;

    let mut product = u128::from(rng.next_u64()) * u128::from(bound);
    if (product as u64) < bound {
        // Rejecting the lowest `2^64 mod bound` values of the low word makes every result
        // equally likely.
        let threshold = bound.wrapping_neg() % bound;
        while (product as u64) < threshold {
            product = u128::from(rng.next_u64()) * u128::from(bound);
        }
    }

    (product >> 64) as usize
}

/// Draws an integer uniformly from an inclusive range whose start is at most its end.
pub(crate) fn in_range<R: Rng + ?Sized>(rng: &mut R, range: &RangeInclusive<usize>) -> usize {
    let (start, end) = (*range.start(), *range.end());

    // The full `usize` range cannot occur here: episode shapes are counts of real items.
    range.start() + below(rng, end - start + 1)
}

/// Reusable buffers of [`with_scratch`].
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The identity permutation `0..len` between draws.
    identity: Vec<usize>,
    /// The swap partner of every step of the current draw, to undo it.
    swaps: Vec<usize>,
    /// Set while `identity` may hold a partial shuffle, so a draw interrupted by a panicking
    /// generator is repaired by the next one.
    dirty: bool,
    /// The values drawn by [`Scratch::sample_values`].
    drawn: Vec<usize>,
    /// A buffer for callers that keep one draw while making others, such as the classes of an
    /// episode while drawing their items.
    pub(crate) classes: Vec<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers, so drawing allocates nothing once the buffers
/// have grown to the largest class.
///
/// `f` must not call `with_scratch` again, because the buffers are borrowed for its duration.
pub(crate) fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with_borrow_mut(f)
}

/// Lists of up to this many times the drawn amount (at least 16) are shuffled in a copy. Longer
/// lists go through the identity permutation, because its cost does not grow with the list.
const COPY_FACTOR: usize = 4;

impl Scratch {
    /// Draws `amount` distinct positions of `0..len`, uniformly and in random order, and
    /// appends them to `out`. `amount` must be at most `len`.
    ///
    /// This is the first `amount` steps of a Fisher-Yates shuffle of `0..len`: step `rank`
    /// swaps position `rank` with a uniform position of `rank..len`. The shuffle runs on the
    /// identity permutation and is undone afterwards, so it costs `amount` draws however large
    /// `len` is.
    pub(crate) fn sample_positions<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        len: usize,
        amount: usize,
        out: &mut Vec<usize>,
    ) {
        debug_assert!(amount <= len, "cannot draw {amount} distinct positions of {len}");
        self.prepare(len);

        self.dirty = true;
        self.swaps.clear();
        let identity = &mut self.identity[..len];
        for rank in 0..amount {
            let partner = rank + below(rng, len - rank);
            identity.swap(rank, partner);
            self.swaps.push(partner);
        }
        out.extend_from_slice(&identity[..amount]);

        // Undoing the swaps in reverse order restores the identity.
        for (rank, &partner) in self.swaps.iter().enumerate().rev() {
            identity.swap(rank, partner);
        }
        self.dirty = false;
    }

    /// Draws `amount` distinct entries of `values` (distinct by position), uniformly and in
    /// random order. `amount` must be at most `values.len()`.
    ///
    /// The result is `values[p]` for the positions `p` that [`Scratch::sample_positions`] draws
    /// from the same generator state, whichever of its two methods runs.
    pub(crate) fn sample_values<R: Rng + ?Sized>(&mut self, rng: &mut R, values: &[usize], amount: usize) -> &[usize] {
        let len = values.len();
        debug_assert!(amount <= len, "cannot draw {amount} distinct values of {len}");
        self.drawn.clear();

        if len > COPY_FACTOR * amount.max(16) {
            let mut drawn = std::mem::take(&mut self.drawn);
            self.sample_positions(rng, len, amount, &mut drawn);
            for value in &mut drawn {
                *value = values[*value];
            }
            self.drawn = drawn;
            return &self.drawn;
        }

        // The same swaps on a copy of a short list give the values directly.
        self.drawn.extend_from_slice(values);
        let drawn = &mut self.drawn[..];
        for rank in 0..amount {
            let partner = rank + below(rng, len - rank);
            drawn.swap(rank, partner);
        }
        &self.drawn[..amount]
    }

    /// Makes `identity` the identity permutation of at least `len` positions.
    fn prepare(&mut self, len: usize) {
        if self.dirty {
            let size = self.identity.len();
            self.identity.clear();
            self.identity.extend(0..size);
            self.dirty = false;
        }

        let size = self.identity.len();
        if size < len {
            self.identity.extend(size..len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_covers_every_value() {
        let mut rng = episode_rng(1);
        let mut seen = [0usize; 7];

        for _ in 0..7_000 {
            seen[below(&mut rng, 7)] += 1;
        }

        // Each value is expected 1000 times; 800 is more than six standard deviations below.
        assert!(seen.iter().all(|&count| count > 800), "{seen:?}");
    }

    #[test]
    fn below_one_is_zero() {
        let mut rng = episode_rng(2);

        assert!((0..100).all(|_| below(&mut rng, 1) == 0));
    }

    #[test]
    fn in_range_covers_both_ends() {
        let mut rng = episode_rng(3);
        let drawn: Vec<usize> = (0..500).map(|_| in_range(&mut rng, &(4..=6))).collect();

        assert!(drawn.iter().all(|value| (4..=6).contains(value)));
        assert!(drawn.contains(&4));
        assert!(drawn.contains(&6));
    }

    #[test]
    fn sample_positions_distinct_and_restores_identity() {
        let mut rng = episode_rng(4);
        let mut scratch = Scratch::default();

        for (len, amount) in [(10, 10), (964, 20), (20, 16), (5, 0), (1, 1)] {
            let mut positions = Vec::new();
            scratch.sample_positions(&mut rng, len, amount, &mut positions);
            positions.sort_unstable();
            positions.dedup();

            assert_eq!(positions.len(), amount, "len {len}");
            assert!(positions.iter().all(|&position| position < len), "len {len}");
            assert!(
                scratch
                    .identity
                    .iter()
                    .enumerate()
                    .all(|(index, &value)| index == value)
            );
        }
    }

    #[test]
    fn sample_values_copy_and_identity_methods_agree() {
        let mut scratch = Scratch::default();

        // 64 values take the copy for 16 draws and the identity permutation for 3.
        let values: Vec<usize> = (0..64).map(|value| 1000 + 7 * value).collect();
        for amount in [16, 3] {
            for seed in 0..20 {
                let drawn = scratch.sample_values(&mut episode_rng(seed), &values, amount).to_vec();

                let mut positions = Vec::new();
                scratch.sample_positions(&mut episode_rng(seed), values.len(), amount, &mut positions);
                let expected: Vec<usize> = positions.iter().map(|&position| values[position]).collect();

                assert_eq!(drawn, expected, "amount {amount}, seed {seed}");
            }
        }
    }

    #[test]
    fn sample_values_is_uniform_over_first_draw() {
        let mut rng = episode_rng(5);
        let mut scratch = Scratch::default();
        let values = [10, 11, 12, 13];
        let mut first = [0usize; 4];

        for _ in 0..4_000 {
            let drawn = scratch.sample_values(&mut rng, &values, 2);
            first[drawn[0] - 10] += 1;
        }

        // Each value is expected 1000 times.
        assert!(first.iter().all(|&count| count > 850), "{first:?}");
    }

    #[test]
    fn scratch_repairs_interrupted_draw() {
        let mut scratch = Scratch::default();
        scratch.prepare(4);
        scratch.identity.swap(0, 3);
        scratch.dirty = true;

        scratch.prepare(6);

        assert_eq!(scratch.identity, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn episode_rng_matches_reference_output() {
        // First two outputs of pcg64_fast for seed 42, computed by a Python transcription of
        // splitmix64 and of the PCG reference (multiplier 0x2360ED051FC65DA44385DF649FCCF645).
        let mut rng = episode_rng(42);

        assert_eq!(rng.next_u64(), 0xC2E1_24A9_403A_4670);
        assert_eq!(rng.next_u64(), 0xBF85_2E3F_B3C0_9425);
    }

    #[test]
    fn episode_rng_is_fixed_for_a_seed() {
        let mut first = episode_rng(42);
        let mut second = episode_rng(42);
        let mut other = episode_rng(43);

        let value = first.next_u64();
        assert_eq!(value, second.next_u64());
        assert_ne!(value, other.next_u64());
    }
}
