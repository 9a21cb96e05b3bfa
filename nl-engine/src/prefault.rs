//! Pre-faulting of buffers about to be filled.
//!
//! A batch datagram of up to a megabyte is written into fresh memory: one
//! page fault per 4 KiB page as the encoder reaches it. Under a virtualised
//! kernel a fault costs microseconds to tens of microseconds, which for a
//! large batch is more than the encoding itself.
//! `madvise(MADV_POPULATE_WRITE)` (Linux 5.14) maps the whole range
//! writable in one system call instead.

/// Smallest spare capacity worth a system call (below it, the few page
/// faults cost less).
const MIN_BYTES: usize = 16 * PAGE;

const PAGE: usize = 4096;

/// Maps the pages of `buf`'s spare capacity writable in one system call, so
/// that filling it takes no page fault. Only an optimisation: on kernels
/// without `MADV_POPULATE_WRITE`, or on any failure, nothing happens and the
/// pages fault in as they are written.
pub(crate) fn spare_capacity(buf: &mut Vec<u8>) {
    let spare = buf.spare_capacity_mut();
    if spare.len() < MIN_BYTES {
        return;
    }
    let start = spare.as_mut_ptr() as usize;
    let end = start.saturating_add(spare.len());
    // Whole pages inside the spare capacity only (madvise wants a
    // page-aligned start; the partial pages at either end may belong to
    // other allocations).
    let first = start.next_multiple_of(PAGE);
    let last = end - end % PAGE;
    if last <= first {
        return;
    }
    // SAFETY: [first, last) lies inside the spare capacity of `buf`, memory
    // this Vec owns and that nothing else references while we hold `&mut`
    // to it. MADV_POPULATE_WRITE only faults the pages in (as a write would,
    // without writing): it changes neither their contents nor the mapping,
    // so no Rust value can observe it. Its result is deliberately ignored.
    unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_POPULATE_WRITE,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's minor page faults so far.
    fn minor_faults() -> i64 {
        // SAFETY: getrusage fills the zeroed rusage we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: RUSAGE_THREAD and a valid pointer to our rusage.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
        assert_eq!(rc, 0);
        ru.ru_minflt
    }

    #[test]
    fn filling_a_prefaulted_buffer_takes_no_page_fault() {
        // 8 MiB: a fresh mapping of its own (beyond malloc's mmap
        // threshold), so its pages are not yet mapped
        let size = 8 << 20;
        let mut cold: Vec<u8> = Vec::with_capacity(size);
        let before = minor_faults();
        cold.resize(size, 1);
        let cold_faults = minor_faults() - before;

        let mut warm: Vec<u8> = Vec::with_capacity(size);
        spare_capacity(&mut warm);
        let before = minor_faults();
        warm.resize(size, 1);
        let warm_faults = minor_faults() - before;
        // the kernel may map huge pages (fewer faults); either way the
        // populated buffer must fault far less than the cold one
        assert!(
            warm_faults * 4 <= cold_faults.max(4),
            "cold {cold_faults} faults, prefaulted {warm_faults}"
        );
        assert!(warm.iter().all(|b| *b == 1));
        assert!(cold.iter().all(|b| *b == 1));
    }

    #[test]
    fn small_or_full_buffers_are_left_alone() {
        let mut v: Vec<u8> = Vec::with_capacity(100);
        spare_capacity(&mut v);
        let mut full = vec![7u8; 1 << 20];
        spare_capacity(&mut full);
        assert!(full.iter().all(|b| *b == 7));
    }
}
