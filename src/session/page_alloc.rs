//! The launcher's memory allocator: the C library's, except that every allocation of
//! [`THRESHOLD`] bytes or more is a mapping of its own.
//!
//! The large allocations are the stack's per-connection buffers (128 KiB each way by
//! default). Mapped, they are zero pages that become resident only as bytes pass and go
//! back to the kernel when the connection ends. Served by glibc, some land in memory
//! its heap freed earlier, which calloc then clears whole: an idle connection holds
//! its buffers resident, and each new one costs a 256 KiB memset. glibc's own mmap
//! threshold cannot promise this: it only maps what its free lists and the top of the
//! heap cannot serve.
//!
//! A few released mappings are kept for the next connection ([`Spare`]), emptied with
//! `MADV_DONTNEED` (their pages go back to the kernel and read as zeros again): a
//! connection then costs one `madvise` per buffer instead of an `mmap` and a `munmap`,
//! and the kernel does not split and merge the neighbouring mappings each time.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

/// From this size up, an allocation is mapped.
pub(crate) const THRESHOLD: usize = 64 * 1024;
/// Mappings are page-aligned; stricter alignments go to the C library.
const PAGE: usize = 4096;

/// Where a large block goes when the kernel refuses a mapping (vm.max_map_count
/// reached, say): into the C library's heap, `HEAP_OFFSET` bytes into a page-aligned
/// block. Mappings start on a page and these never do, which is how `dealloc` tells
/// them apart.
const HEAP_OFFSET: usize = 16;

/// How many released mappings are kept for reuse: a few connections' buffers, so that
/// connections made one after another reuse them. Empty, they hold no memory, only
/// address space.
const SPARES: usize = 8;

/// See the module documentation.
pub(crate) struct PageMapped;

/// Released mappings, emptied, by address and length (0: no mapping in that place).
struct Spare {
    blocks: Mutex<[(usize, usize); SPARES]>,
}

static SPARE: Spare = Spare {
    blocks: Mutex::new([(0, 0); SPARES]),
};

impl Spare {
    /// A kept mapping of exactly `len` bytes, zero-filled, if there is one.
    fn take(&self, len: usize) -> Option<*mut u8> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let slot = blocks
            .iter_mut()
            .find(|(addr, l)| *addr != 0 && *l == len)?;
        let (addr, _) = std::mem::take(slot);
        Some(addr as *mut u8)
    }

    /// Keeps the mapping at `ptr` of `len` bytes, emptied, if there is room; else, or
    /// if it cannot be emptied, unmaps it.
    ///
    /// # Safety
    /// `ptr` is a mapping of `len` bytes that nothing uses any more.
    unsafe fn give(&self, ptr: *mut u8, len: usize) {
        {
            let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = blocks.iter_mut().find(|(addr, _)| *addr == 0) {
                // SAFETY: the caller's mapping; MADV_DONTNEED on private anonymous
                // memory drops its pages, which then read as zeros.
                if unsafe { libc::madvise(ptr.cast(), len, libc::MADV_DONTNEED) } == 0 {
                    *slot = (ptr as usize, len);
                    return;
                }
            }
        }
        // SAFETY: the caller's mapping, no longer used.
        unsafe { libc::munmap(ptr.cast(), len) };
    }
}

fn mapped(layout: Layout) -> bool {
    layout.size() >= THRESHOLD && layout.align() <= PAGE
}

/// The heap block behind a large block that could not be mapped.
fn heap_layout(layout: Layout) -> Option<Layout> {
    let size = layout.size().checked_add(HEAP_OFFSET)?;
    (layout.align() <= HEAP_OFFSET).then_some(Layout::from_size_align(size, PAGE).ok()?)
}

/// A large block from the heap, for when no mapping can be had; null if none either.
fn heap_block(layout: Layout, zeroed: bool) -> *mut u8 {
    let Some(heap) = heap_layout(layout) else {
        return std::ptr::null_mut();
    };
    // SAFETY: heap has a non-zero size; the block is heap.size() bytes, so the returned
    // pointer has layout.size() bytes after it, and HEAP_OFFSET keeps layout.align().
    unsafe {
        let p = if zeroed {
            System.alloc_zeroed(heap)
        } else {
            System.alloc(heap)
        };
        if p.is_null() {
            p
        } else {
            p.add(HEAP_OFFSET)
        }
    }
}

// SAFETY: every pointer returned is valid for `layout` (a fresh private anonymous
// mapping of at least layout.size() bytes, page-aligned, or the System allocator's
// block); dealloc sends each pointer back to where it came from, decided by the same
// test on the same layout, which the caller must pass unchanged.
unsafe impl GlobalAlloc for PageMapped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !mapped(layout) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { System.alloc(layout) };
        }
        if let Some(p) = SPARE.take(layout.size()) {
            return p;
        }
        // SAFETY: an anonymous private mapping with no address hint has no
        // preconditions; failure is MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            heap_block(layout, false)
        } else {
            p.cast()
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(layout) {
            // SAFETY: as alloc; an anonymous mapping is zero-filled (a kept one was
            // emptied), and so is the heap block that stands in for one.
            let p = unsafe { self.alloc(layout) };
            if p as usize % PAGE == HEAP_OFFSET {
                // SAFETY: a heap block of layout.size() bytes at p, just allocated.
                unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
            }
            p
        } else {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mapped(layout) && (ptr as usize).is_multiple_of(PAGE) {
            // SAFETY: ptr is a mapping of layout.size() bytes made by alloc, which the
            // caller no longer uses.
            unsafe { SPARE.give(ptr, layout.size()) };
        } else if mapped(layout) {
            if let Some(heap) = heap_layout(layout) {
                // SAFETY: ptr is HEAP_OFFSET bytes into a heap block of this layout,
                // made by heap_block.
                unsafe { System.dealloc(ptr.sub(HEAP_OFFSET), heap) }
            }
        } else {
            // SAFETY: ptr came from System with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_blocks_are_mapped_zeroed_and_small_ones_are_not() {
        let big = Layout::from_size_align(THRESHOLD, 8).unwrap();
        let small = Layout::from_size_align(THRESHOLD - 1, 8).unwrap();
        assert!(mapped(big) && !mapped(small));
        assert!(!mapped(
            Layout::from_size_align(THRESHOLD, 2 * PAGE).unwrap()
        ));
        let v = vec![0u8; 128 * 1024];
        assert!(v.iter().all(|&b| b == 0));
        assert_eq!(v.as_ptr() as usize % PAGE, 0, "a mapping starts on a page");
        let mut grown = vec![1u8; 1000];
        grown.resize(200 * 1024, 2); // crosses the threshold: System → mapped
        assert_eq!((grown[999], grown[1000], grown[200 * 1024 - 1]), (1, 2, 2));
        grown.truncate(10);
        grown.shrink_to_fit(); // and back
        assert_eq!(grown, vec![1u8; 10]);
    }

    /// A fresh mapping of `len` bytes, filled with a pattern.
    fn dirty_mapping(len: usize) -> *mut u8 {
        // SAFETY: as in alloc.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        // SAFETY: the mapping just made, len bytes.
        unsafe { std::ptr::write_bytes(p.cast::<u8>(), 0xa5, len) };
        p.cast()
    }

    /// Whether `ptr` is mapped (mincore fails with ENOMEM where nothing is).
    fn is_mapped(ptr: *mut u8) -> bool {
        let mut resident = 0u8;
        // SAFETY: one page asked about, one byte of answer.
        unsafe { libc::mincore(ptr.cast(), PAGE, &mut resident) == 0 }
    }

    #[test]
    fn a_released_mapping_is_reused_emptied() {
        let spare = Spare {
            blocks: Mutex::new([(0, 0); SPARES]),
        };
        let len = 2 * THRESHOLD;
        let p = dirty_mapping(len);
        // SAFETY: the mapping is unused from here on.
        unsafe { spare.give(p, len) };
        assert_eq!(spare.take(len + PAGE), None, "only the same size");
        assert_eq!(spare.take(len), Some(p));
        // SAFETY: the len bytes at p, mapped (the spare kept it), now ours again.
        let bytes = unsafe { std::slice::from_raw_parts(p, len) };
        assert!(bytes.iter().all(|&b| b == 0), "reads as zeros again");
        assert_eq!(spare.take(len), None, "taken once");
        // SAFETY: ours, unused.
        unsafe { libc::munmap(p.cast(), len) };
    }

    #[test]
    fn spares_beyond_the_bound_are_unmapped() {
        let spare = Spare {
            blocks: Mutex::new([(0, 0); SPARES]),
        };
        let len = THRESHOLD;
        let blocks: Vec<*mut u8> = (0..=SPARES).map(|_| dirty_mapping(len)).collect();
        for &p in &blocks {
            // SAFETY: each mapping is unused from here on.
            unsafe { spare.give(p, len) };
        }
        assert!(blocks[..SPARES].iter().all(|&p| is_mapped(p)), "kept");
        assert!(!is_mapped(blocks[SPARES]), "one too many: unmapped");
        for _ in 0..SPARES {
            let p = spare.take(len).unwrap();
            // SAFETY: ours again, unused.
            unsafe { libc::munmap(p.cast(), len) };
        }
        assert_eq!(spare.take(len), None);
    }

    #[test]
    fn a_large_block_the_kernel_would_not_map_comes_from_the_heap_and_goes_back() {
        let layout = Layout::from_size_align(THRESHOLD, 1).unwrap();
        let p = heap_block(layout, true);
        assert!(!p.is_null());
        assert_eq!(p as usize % PAGE, HEAP_OFFSET, "never taken for a mapping");
        // SAFETY: p has layout.size() zeroed bytes; then back through dealloc.
        unsafe {
            assert!(std::slice::from_raw_parts(p, layout.size())
                .iter()
                .all(|&b| b == 0));
            p.write_bytes(7, layout.size());
            PageMapped.dealloc(p, layout);
        }
        let strict = Layout::from_size_align(THRESHOLD, 64).unwrap();
        assert!(
            heap_block(strict, false).is_null(),
            "cannot keep the alignment"
        );
    }
}
