//! The mimalloc setting of the binary: the option index really is the purge delay.

#[test]
fn keep_freed_pages_turns_purging_off() {
    // mimalloc v3 purges after 1000 ms unless the environment sets another delay; no other option
    // near index 15 defaults to 1000, so this checks the index against the C enumeration.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        assert_eq!(fsl::allocator::purge_delay(), 1000);
    }

    fsl::allocator::keep_freed_pages();

    assert_eq!(fsl::allocator::purge_delay(), -1);
}
