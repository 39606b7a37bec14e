//! 2x2 max or min pooling of stride 2 on f32 planes with AVX-512: sixteen windows per step.
//!
//! The portable loop compares one window at a time and took about a quarter of the first Conv-4
//! block's forward pass on 28x28 planes. Here two vector loads bring 32 values of each of the
//! windows' two rows, and a permutation splits them into the windows' left and right values.
//! Three masked comparisons then keep the winner and its offset in all sixteen windows at once.

use std::any::TypeId;
use std::arch::x86_64::{
    __m512, __m512i, _CMP_GT_OQ, _CMP_LT_OQ, _mm512_add_epi32, _mm512_cmp_ps_mask, _mm512_loadu_si512,
    _mm512_mask_blend_epi32, _mm512_mask_blend_ps, _mm512_mask_storeu_epi32, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_permutex2var_ps, _mm512_set1_epi32,
};

use candle_core::WithDType;

use super::distance_tiles::lane_mask;
use super::max_pool::Extremum;

/// Windows per step: the f32 lanes of an AVX-512 vector.
const LANES: usize = 16;

/// Pools the 2x2 windows of one NaN-free `plane`, `width` values wide, into `values` and their
/// plane offsets into `maxima` (both `out.0 x out.1`), as the portable `pool_2x2` does.
///
/// Returns `false`, writing nothing, unless `T` is f32, the CPU has AVX-512F and `extremum` is
/// a maximum or a minimum.
pub(crate) fn try_pool<T: WithDType>(
    plane: &[T],
    width: usize,
    out: (usize, usize),
    extremum: Extremum,
    values: &mut [T],
    maxima: &mut [u32],
) -> bool {
    let minimum = match extremum {
        Extremum::Maximum => false,
        Extremum::Minimum => true,
        Extremum::First => return false,
    };
    if TypeId::of::<T>() != TypeId::of::<f32>() || !std::arch::is_x86_feature_detected!("avx512f") {
        return false;
    }
    assert!(
        2 * out.1 <= width
            && (out.0 == 0 || (2 * out.0 - 1) * width + 2 * out.1 <= plane.len())
            && values.len() >= out.0 * out.1
            && maxima.len() >= out.0 * out.1
            && plane.len() <= u32::MAX as usize,
        "2x2 pooling: {} values of width {width} into {} x {} windows",
        plane.len(),
        out.0,
        out.1
    );

    // SAFETY: `T` is f32 (the type ids are equal), so both slices keep their element type, and
    // the new slices borrow the same memory for the same lifetimes as the old ones.
    #[allow(unsafe_code)]
    let (plane, values) = unsafe {
        (
            std::slice::from_raw_parts(plane.as_ptr().cast::<f32>(), plane.len()),
            std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<f32>(), values.len()),
        )
    };

    // SAFETY: the CPU has AVX-512F (checked above), and the lengths `pool` relies on are asserted.
    #[allow(unsafe_code)]
    unsafe {
        pool(plane, width, out, minimum, values, maxima);
    }
    true
}

/// Pools every output row in steps of sixteen windows; see [`try_pool`].
///
/// # Safety
///
/// The CPU must support AVX-512F, and the lengths must be those that [`try_pool`] asserts.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn pool(
    plane: &[f32],
    width: usize,
    out: (usize, usize),
    minimum: bool,
    values: &mut [f32],
    maxima: &mut [u32],
) {
    let even: [i32; LANES] = std::array::from_fn(|lane| 2 * lane as i32);
    let odd: [i32; LANES] = std::array::from_fn(|lane| 2 * lane as i32 + 1);
    // SAFETY: each array contains the 16 i32 values that one unaligned load reads.
    let (even, odd) = unsafe {
        (
            _mm512_loadu_si512(even.as_ptr().cast()),
            _mm512_loadu_si512(odd.as_ptr().cast()),
        )
    };

    for oy in 0..out.0 {
        let top = 2 * oy * width;
        for first in (0..out.1).step_by(LANES) {
            let windows = (out.1 - first).min(LANES);
            let left = top + 2 * first;

            // SAFETY: the loads read plane offsets `left + r * width + i` for `r` in {0, 1} and
            // `i < 2 * windows`, the last of which is below `(2 * oy + 1) * width + 2 * out.1`,
            // at most `plane.len()` as asserted. Masked-off lanes read nothing.
            let (upper, lower) = unsafe {
                (
                    row_pairs(plane.as_ptr().add(left), windows, even, odd),
                    row_pairs(plane.as_ptr().add(left + width), windows, even, odd),
                )
            };

            // Candidates in row-major order; a strict comparison keeps the first of tied values.
            let base = _mm512_add_epi32(_mm512_set1_epi32(left as i32), even);
            let mut best = (upper.0, base);
            let candidates = [(upper.1, 1), (lower.0, width as i32), (lower.1, width as i32 + 1)];
            for (candidate, step) in candidates {
                let better = if minimum {
                    _mm512_cmp_ps_mask::<_CMP_LT_OQ>(candidate, best.0)
                } else {
                    _mm512_cmp_ps_mask::<_CMP_GT_OQ>(candidate, best.0)
                };
                let offsets = _mm512_add_epi32(base, _mm512_set1_epi32(step));
                best = (
                    _mm512_mask_blend_ps(better, best.0, candidate),
                    _mm512_mask_blend_epi32(better, best.1, offsets),
                );
            }

            let mask = lane_mask(windows);
            let at = oy * out.1 + first;
            // SAFETY: the set lanes write indices `at..at + windows`, below `out.0 * out.1`, at
            // most the asserted lengths of `values` and `maxima`.
            unsafe {
                _mm512_mask_storeu_ps(values.as_mut_ptr().add(at), mask, best.0);
                _mm512_mask_storeu_epi32(maxima.as_mut_ptr().add(at).cast(), mask, best.1);
            }
        }
    }
}

/// Loads `2 * windows` values of one row from `start` and returns the left and the right value
/// of each of the `windows` windows.
///
/// # Safety
///
/// The CPU must support AVX-512F, and `start..start + 2 * windows` must be readable.
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn row_pairs(start: *const f32, windows: usize, even: __m512i, odd: __m512i) -> (__m512, __m512) {
    let count = 2 * windows;
    // SAFETY: lane `l` of the first load reads `start + l` for `l < min(count, 16)`, and of the
    // second `start + 16 + l` for `16 + l < count`: inside the readable range.
    let (low, high) = unsafe {
        (
            _mm512_maskz_loadu_ps(lane_mask(count), start),
            _mm512_maskz_loadu_ps(lane_mask(count.saturating_sub(LANES)), start.wrapping_add(LANES)),
        )
    };
    (
        _mm512_permutex2var_ps(low, even, high),
        _mm512_permutex2var_ps(low, odd, high),
    )
}
