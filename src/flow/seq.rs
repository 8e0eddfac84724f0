//! TCP sequence numbers as a type: arithmetic wraps, ordering is the signed difference
//! (RFC 793 / RFC 1982 serial-number arithmetic), so raw `u32`s are never compared.

use std::cmp::Ordering;
use std::ops::{Add, Sub};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance from `other` to `self`: positive when `self` is after `other`.
    pub fn diff(self, other: SeqNumber) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl Sub for SeqNumber {
    type Output = i64;
    fn sub(self, rhs: SeqNumber) -> i64 {
        self.diff(rhs)
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_wraps() {
        let a = SeqNumber(u32::MAX - 10);
        let b = a + 20;
        assert_eq!(b.0, 9);
        assert!(b > a);
        assert!(a < b);
        assert_eq!(b - a, 20);
        assert_eq!(a - b, -20);
    }
}
