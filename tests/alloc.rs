//! Buffer-reusing reads allocate nothing on the caller's thread when the caller's buffer is
//! big enough. A counting global allocator counts the allocations each thread makes.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use common::{child, HANG};
use procpump::Popen;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed to the system allocator unchanged; the counter is a
// const-initialized thread-local `Cell`, which neither allocates nor has a destructor.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations this thread made while `f` ran.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let value = f();
    (value, ALLOCATIONS.with(Cell::get) - before)
}

/// An echo child with `data` already buffered in its stdout handle.
fn echoed(data: &[u8]) -> Popen {
    let p = Popen::spawn(&mut child(&["echo"])).unwrap();
    p.stdin().unwrap().send(data).unwrap();
    let start = std::time::Instant::now();
    while p.stdout().unwrap().buffered() < data.len() {
        assert!(start.elapsed() < HANG, "the echo never came");
        std::thread::sleep(Duration::from_millis(1));
    }
    p
}

#[test]
fn receiving_into_a_big_enough_buffer_allocates_nothing() {
    let p = echoed(&[7u8; 3000]);
    let stdout = p.stdout().unwrap();
    let mut vec = Vec::with_capacity(8192);
    let (got, n) = allocations(|| stdout.try_recv_into(&mut vec).unwrap());
    assert_eq!(got, Some(3000));
    assert_eq!(n, 0, "try_recv_into allocated");

    p.stdin().unwrap().send(&[8u8; 3000]).unwrap();
    let (got, n) = allocations(|| stdout.recv_into_timeout(&mut vec, HANG).unwrap());
    assert!(got.unwrap() > 0);
    assert_eq!(n, 0, "recv_into_timeout allocated");
}

#[test]
fn receiving_into_a_slice_allocates_nothing_even_when_it_cuts_a_chunk() {
    let p = echoed(&[9u8; 3000]);
    let stdout = p.stdout().unwrap();
    let mut slice = [0u8; 1000];
    for _ in 0..3 {
        let (got, n) = allocations(|| stdout.recv_slice_timeout(&mut slice, HANG).unwrap());
        assert_eq!(got, Some(1000));
        assert_eq!(n, 0, "recv_slice allocated");
    }
    let (got, n) = allocations(|| stdout.try_recv_slice(&mut slice).unwrap());
    assert_eq!(got, Some(0));
    assert_eq!(n, 0);
}
