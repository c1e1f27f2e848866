//! A cap on things in flight (DNS queries, clients of the SOCKS port): a slot is taken
//! before the work starts and given back when dropped. Single-threaded, like the
//! session.

use std::cell::Cell;
use std::rc::Rc;

/// Counts what is in flight against a cap.
#[derive(Clone, Debug)]
pub(crate) struct Slots {
    in_flight: Rc<Cell<usize>>,
    cap: usize,
}

impl Slots {
    /// At most `cap` at once.
    pub(crate) fn new(cap: usize) -> Slots {
        Slots {
            in_flight: Rc::new(Cell::new(0)),
            cap,
        }
    }

    /// A slot, or None at the cap.
    pub(crate) fn take(&self) -> Option<Slot> {
        let n = self.in_flight.get();
        (n < self.cap).then(|| {
            self.in_flight.set(n + 1);
            Slot(Rc::clone(&self.in_flight))
        })
    }

    /// How many are in flight.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.get()
    }
}

/// One slot taken; given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot(Rc<Cell<usize>>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cap_what_is_in_flight() {
        let slots = Slots::new(2);
        let a = slots.take().expect("first");
        let b = slots.take().expect("second");
        assert!(slots.take().is_none(), "over the cap");
        drop(a);
        let c = slots.take().expect("a slot given back is taken again");
        assert_eq!(slots.in_flight(), 2);
        drop((b, c));
        assert_eq!(slots.in_flight(), 0);
    }
}
