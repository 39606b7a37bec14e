//! `cargo xtask peak`: the CPU's measured f32 multiply-add peak, the reference for the
//! GFLOP/s of the kernels in `docs/benchmarks.md`.
//!
//! Each thread runs independent chains of fused multiply-adds on registers, with no memory
//! traffic: twelve accumulators hide the instruction latency on cores with two FMA units. The
//! widest vector instructions the CPU supports are used (AVX-512, else AVX2 with FMA); one FMA
//! counts as two floating-point operations per lane.

use std::time::{Duration, Instant};

use clap::Args;

use crate::error::Error;

/// Options of `cargo xtask peak`.
#[derive(Debug, Args)]
pub struct PeakArgs {
    /// Threads running the loop at once (default: 2, the cores of the benchmark machines).
    #[arg(long, default_value_t = 2)]
    threads: usize,

    /// Measured seconds per repetition.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
}

/// The vector width used and the iteration function for it.
struct Loop {
    name: &'static str,
    flops_per_iteration: u64,
    run: fn(u64) -> f32,
}

/// Measures the peak and prints it.
pub fn run(args: &PeakArgs) -> Result<(), Error> {
    if args.threads == 0 || args.seconds.is_nan() || args.seconds <= 0.0 {
        return Err(Error::InvalidArgument(format!(
            "--threads {} and --seconds {} must both be positive",
            args.threads, args.seconds
        )));
    }
    let Some(kernel) = detect() else {
        return Err(Error::InvalidArgument(
            "this CPU has neither AVX-512 nor AVX2 with FMA; the peak loop needs one of them".into(),
        ));
    };

    // A short calibration fixes the iteration count, so that every thread does the same work and
    // the wall time of the slowest thread measures them all.
    let calibration = 1_000_000;
    let started = Instant::now();
    std::hint::black_box((kernel.run)(calibration));
    let per_iteration = started.elapsed().as_secs_f64() / calibration as f64;
    let iterations = ((args.seconds / per_iteration) as u64).max(calibration);

    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..args.threads {
                scope.spawn(|| std::hint::black_box((kernel.run)(iterations)));
            }
        });
        best = best.min(started.elapsed());
    }

    let flops = (kernel.flops_per_iteration * iterations * args.threads as u64) as f64;
    println!(
        "f32 peak: {:.1} GFLOP/s on {} threads ({}, fused multiply-add loop, best of 3 runs of {:.1} s)",
        flops / best.as_secs_f64() / 1e9,
        args.threads,
        kernel.name,
        best.as_secs_f64()
    );
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Option<Loop> {
    if std::arch::is_x86_feature_detected!("avx512f") {
        return Some(Loop {
            name: "AVX-512",
            flops_per_iteration: 12 * 16 * 2,
            run: x86::avx512,
        });
    }
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return Some(Loop {
            name: "AVX2 + FMA",
            flops_per_iteration: 12 * 8 * 2,
            run: x86::avx2,
        });
    }
    None
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Option<Loop> {
    None
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    /// Runs `iterations` rounds of 12 AVX-512 multiply-adds.
    pub fn avx512(iterations: u64) -> f32 {
        // SAFETY: `detect` hands out this function only after `is_x86_feature_detected!`
        // confirmed AVX-512F on this CPU; the loop touches registers only.
        unsafe { avx512_loop(iterations) }
    }

    /// Runs `iterations` rounds of 12 AVX2 multiply-adds.
    pub fn avx2(iterations: u64) -> f32 {
        // SAFETY: `detect` hands out this function only after `is_x86_feature_detected!`
        // confirmed AVX2 and FMA on this CPU; the loop touches registers only.
        unsafe { avx2_loop(iterations) }
    }

    #[target_feature(enable = "avx512f")]
    fn avx512_loop(iterations: u64) -> f32 {
        let scale = _mm512_set1_ps(0.999_999);
        let shift = _mm512_set1_ps(1e-7);
        let mut accumulators = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iterations {
            for accumulator in &mut accumulators {
                *accumulator = _mm512_fmadd_ps(*accumulator, scale, shift);
            }
        }
        accumulators.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    fn avx2_loop(iterations: u64) -> f32 {
        let scale = _mm256_set1_ps(0.999_999);
        let shift = _mm256_set1_ps(1e-7);
        let mut accumulators = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iterations {
            for accumulator in &mut accumulators {
                *accumulator = _mm256_fmadd_ps(*accumulator, scale, shift);
            }
        }
        let mut lanes = [0f32; 8];
        accumulators
            .iter()
            .map(|&a| {
                // SAFETY: `lanes` contains exactly the 8 f32 values one 256-bit store writes.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), a) };
                lanes.iter().sum::<f32>()
            })
            .sum()
    }
}
