//! Thread settings of candle for training on few cores.

/// The environment variable candle 0.11 reads, once, for the size of its element-wise pool.
pub const CANDLE_NUM_THREADS: &str = "CANDLE_NUM_THREADS";

/// Makes candle run its element-wise operations on the calling thread, unless the environment
/// already sets [`CANDLE_NUM_THREADS`].
///
/// candle 0.11 spreads element-wise operations (additions, ReLU, the optimiser's updates) over a
/// worker pool of its own, and each worker spins for 25,000 rounds after every operation before
/// it sleeps. fsl's kernels run on rayon's pool, so on a machine with few cores the spinning
/// workers take cores from them. With one thread candle starts no worker. On the 2 cores of the
/// benchmark machine the median Conv-4 5-way 1-shot training step went from 68.8 ms to 60.7 ms
/// (five runs of 60 steps each way, alternated).
///
/// # Safety
///
/// It may set an environment variable, which is sound only while no other thread reads or
/// writes the environment. Call it first in `main`, before any thread starts. candle reads the
/// variable when it first runs an element-wise operation, so a later call has no effect.
pub unsafe fn candle_ops_on_calling_thread() {
    if std::env::var_os(CANDLE_NUM_THREADS).is_none() {
        // SAFETY: the caller guarantees that no other thread exists yet.
        unsafe { std::env::set_var(CANDLE_NUM_THREADS, "1") };
    }
}
