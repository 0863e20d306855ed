//! Large allocations on transparent huge pages, as numpy asks for its arrays.
//!
//! Building an index writes gigabytes of fresh memory, and with 4 KiB pages
//! the kernel's page faults (zeroing, fault entry, cgroup accounting) took a
//! third of a build. Linux gives 2 MiB pages to memory that asks for them
//! (`transparent_hugepage` in `madvise` mode, the usual default): blocks of
//! 4 MiB and more ask, the size from which numpy does. Nothing else changes:
//! the system allocator still allocates and frees.
//!
//! `TOKHAI_HUGEPAGES=0` stops the asking: on a host whose memory is badly
//! fragmented, a fault in such memory may wait for the kernel to compact it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// The system allocator, with huge pages asked for large blocks.
pub struct HugePages;

const LARGE: usize = 4 << 20;
const PAGE: usize = 4096;

static ASK: AtomicBool = AtomicBool::new(true);

/// Reads `TOKHAI_HUGEPAGES` (when the module loads: reading it here would
/// allocate).
pub fn configure() {
    ASK.store(
        std::env::var_os("TOKHAI_HUGEPAGES").is_none_or(|v| v != "0"),
        Ordering::Relaxed,
    );
}

// SAFETY: every call is the system allocator's; the advice that follows
// changes neither the block nor its contents.
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let block = unsafe { System.alloc_zeroed(layout) };
        advise(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let block = unsafe { System.realloc(block, layout, size) };
        advise(block, size);
        block
    }
}

/// Asks for huge pages for the whole pages of a large block.
fn advise(block: *mut u8, size: usize) {
    if block.is_null() || size < LARGE || !ASK.load(Ordering::Relaxed) {
        return;
    }
    let start = (block as usize).next_multiple_of(PAGE);
    let end = (block as usize + size) / PAGE * PAGE;
    let errno = std::io::Error::last_os_error().raw_os_error();
    // SAFETY: the pages lie inside the block just allocated; MADV_HUGEPAGE
    // is advice, and a refusal (a kernel without THP) changes nothing but
    // errno, which an allocation must leave as it was.
    unsafe {
        if libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) != 0 {
            *libc::__errno_location() = errno.unwrap_or(0);
        }
    }
}
