//! How many rows have something (a mismatch, a duplicate), and the first few of them.

use super::summary::EXAMPLES;

#[derive(Debug)]
pub(super) struct Counted<T> {
    pub(super) count: u64,
    /// The first [`EXAMPLES`].
    pub(super) examples: Vec<T>,
}

impl<T> Default for Counted<T> {
    fn default() -> Self {
        Self {
            count: 0,
            examples: Vec::new(),
        }
    }
}

impl<T> Counted<T> {
    pub(super) fn push(&mut self, example: T) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(example);
        }
    }
}
