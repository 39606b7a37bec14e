//! The candle thread setting of the binary.

/// Without the variable set beforehand, the setting requests one thread from candle. A value
/// the user set is kept.
#[test]
fn candle_ops_on_calling_thread_sets_one_thread() {
    let variable = fsl::threads::CANDLE_NUM_THREADS;
    let before = std::env::var_os(variable);

    // SAFETY: the only test of this binary, so no other thread reads or writes the environment.
    #[allow(unsafe_code)]
    unsafe {
        fsl::threads::candle_ops_on_calling_thread()
    };

    match before {
        None => assert_eq!(std::env::var(variable).as_deref(), Ok("1")),
        Some(value) => assert_eq!(std::env::var_os(variable), Some(value)),
    }
}
