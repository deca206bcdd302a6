//! The module's heap: one call's allocations cut from an arena, the system allocator past it.
//!
//! A fresh instance (policy-server makes one per request) answers one call and is dropped, so a
//! general-purpose allocator's bookkeeping (size classes, free lists, coalescing) is work no call
//! needs. While [`for_one_call`] runs, allocations are cut from a static arena by moving an
//! offset: a block freed on top of the arena is taken back, one grown on top of it grows in place,
//! and the whole arena is used again once every block cut from it is freed (waPC frees the call's
//! answer once the host has read it). Outside a call (`wapc_init`, the payload's buffer), and
//! once the arena is full, the system allocator serves: a warm instance (kwctl's) and a huge pod
//! work as before, and the arena never holds more than [`ARENA_SIZE`] bytes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};

/// The arena's size: well above what the article's pod allocates in one call; the bytes a call
/// does not touch cost a fresh instance nothing (untouched pages of linear memory).
pub const ARENA_SIZE: usize = 2 << 20;

/// A bump arena of `N` bytes in front of the system allocator.
#[repr(C, align(16))]
pub struct Arena<const N: usize> {
    region: UnsafeCell<[u8; N]>,
    /// The offset of the first free byte.
    next: Cell<usize>,
    /// How many blocks cut from the arena are not freed yet.
    live: Cell<usize>,
    /// Whether new blocks come from the arena (inside [`for_one_call`]).
    open: Cell<bool>,
}

impl<const N: usize> Arena<N> {
    /// An empty, closed arena (all zeros: the module's static takes no data segment).
    pub const fn new() -> Self {
        Arena {
            region: UnsafeCell::new([0; N]),
            next: Cell::new(0),
            live: Cell::new(0),
            open: Cell::new(false),
        }
    }

    /// Runs `f` with new blocks cut from the arena.
    pub fn serving<T>(&self, f: impl FnOnce() -> T) -> T {
        let was = self.open.replace(true);
        let out = f();
        self.open.set(was);
        out
    }

    fn base(&self) -> *mut u8 {
        self.region.get().cast::<u8>()
    }

    /// The offset of `ptr` in the arena, when it was cut from it.
    fn offset_of(&self, ptr: *mut u8) -> Option<usize> {
        let offset = (ptr as usize).wrapping_sub(self.base() as usize);
        (offset < N).then_some(offset)
    }

    /// A block from the arena, when it is open and has room.
    fn cut(&self, layout: Layout) -> Option<*mut u8> {
        if !self.open.get() {
            return None;
        }
        let base = self.base() as usize;
        let start = (base + self.next.get()).checked_next_multiple_of(layout.align())? - base;
        let end = start.checked_add(layout.size())?;
        if end > N {
            return None;
        }
        self.next.set(end);
        self.live.set(self.live.get() + 1);
        // SAFETY: `start < end <= N`: inside the region.
        Some(unsafe { self.base().add(start) })
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: blocks are cut from the arena only while it is open and inside its bounds; a block is
// handed out once until freed (the offset only moves back over the top block, or to 0 when no
// block is live); everything else is the system allocator's.
unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.cut(layout) {
            Some(ptr) => ptr,
            // SAFETY: the caller's layout, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(offset) = self.offset_of(ptr) else {
            // SAFETY: not the arena's, so the system allocator's, with its layout.
            return unsafe { System.dealloc(ptr, layout) };
        };
        let live = self.live.get() - 1;
        self.live.set(live);
        if live == 0 {
            self.next.set(0);
        } else if offset + layout.size() == self.next.get() {
            self.next.set(offset);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = self.offset_of(ptr) else {
            // SAFETY: not the arena's, so the system allocator's, with its layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        if offset + layout.size() == self.next.get() && offset + new_size <= N {
            self.next.set(offset + new_size);
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: `new_size` is the caller's, with the block's alignment, as `realloc` requires.
        let grown = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a fresh block of `new_size > layout.size()` bytes; the old one is freed once.
        unsafe {
            let new = self.alloc(grown);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size());
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// The module's allocator: the arena in front of the system allocator.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static HEAP: ModuleHeap = ModuleHeap(Arena::new());

/// The arena as the module's global allocator.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
struct ModuleHeap(Arena<ARENA_SIZE>);

// SAFETY: the module has one thread (wasm32 without atomics): its cells are never shared.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for ModuleHeap {}

// SAFETY: the arena's implementation, passed through.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl GlobalAlloc for ModuleHeap {
    // Not inlined: with fat LTO each allocation site would get its own copy of the arena.
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.0.alloc(layout) }
    }
    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) }
    }
    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// Runs one guest call with its allocations cut from the module's arena (natively: just runs it).
pub fn for_one_call<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    return HEAP.0.serving(f);
    #[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn a_closed_arena_hands_out_nothing_of_its_own() {
        let arena = Box::new(Arena::<256>::new());
        let l = layout(8, 8);
        let p = unsafe { arena.alloc(l) };
        assert!(arena.offset_of(p).is_none());
        unsafe { arena.dealloc(p, l) };
    }

    #[test]
    fn blocks_are_aligned_reused_from_the_top_and_all_at_once() {
        let arena = Box::new(Arena::<256>::new());
        arena.serving(|| unsafe {
            let a = arena.alloc(layout(3, 1));
            let b = arena.alloc(layout(8, 8));
            assert_eq!(arena.offset_of(a), Some(0));
            assert_eq!(arena.offset_of(b), Some(8), "aligned to 8");
            arena.dealloc(b, layout(8, 8));
            assert_eq!(arena.next.get(), 8, "the top block is taken back");
            let c = arena.alloc(layout(4, 4));
            assert_eq!(arena.offset_of(c), Some(8));
            arena.dealloc(a, layout(3, 1));
            assert_eq!(arena.next.get(), 12, "a block below the top stays cut");
            arena.dealloc(c, layout(4, 4));
            assert_eq!(
                arena.next.get(),
                0,
                "no live block: the arena is empty again"
            );
        });
    }

    #[test]
    fn growing_keeps_the_bytes_in_place_on_top_and_copied_elsewhere() {
        let arena = Box::new(Arena::<256>::new());
        arena.serving(|| unsafe {
            let a = arena.alloc(layout(4, 1));
            a.copy_from(b"abcd".as_ptr(), 4);
            let a2 = arena.realloc(a, layout(4, 1), 100);
            assert_eq!(a2, a, "the top block grows in place");
            let b = arena.alloc(layout(1, 1));
            let a3 = arena.realloc(a2, layout(100, 1), 120);
            assert_eq!(
                arena.offset_of(a3),
                Some(101),
                "copied above the block after it"
            );
            assert_eq!(std::slice::from_raw_parts(a3, 4), b"abcd");
            let big = arena.realloc(a3, layout(120, 1), 1000);
            assert!(
                arena.offset_of(big).is_none(),
                "past the arena: the system's"
            );
            assert_eq!(std::slice::from_raw_parts(big, 4), b"abcd");
            arena.dealloc(big, layout(1000, 1));
            arena.dealloc(b, layout(1, 1));
            assert_eq!((arena.next.get(), arena.live.get()), (0, 0));
        });
    }
}
