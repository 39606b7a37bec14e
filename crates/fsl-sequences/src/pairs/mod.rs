//! Pair sequences for siamese training: each pair is a query item and a support item, with a
//! target saying whether their classes match.

mod balanced;
mod product;
mod random;
mod random_balanced;

pub use balanced::BalancedPairs;
pub use product::{Product, ProductBatch, RandomProduct};
pub use random::RandomPairs;
pub use random_balanced::RandomBalancedPairs;

/// A batch of (query, support) pairs as item indices into their tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairBatch {
    /// Query item of each pair, an index into the query table.
    pub query: Vec<usize>,
    /// Support item of each pair, an index into the support table.
    pub support: Vec<usize>,
    /// Whether the two items of each pair share a class (target 1), or not (target 0).
    pub targets: Vec<bool>,
}

impl PairBatch {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            query: Vec::with_capacity(capacity),
            support: Vec::with_capacity(capacity),
            targets: Vec::with_capacity(capacity),
        }
    }

    fn push(&mut self, query: usize, support: usize, target: bool) {
        self.query.push(query);
        self.support.push(support);
        self.targets.push(target);
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.query.len()
    }

    /// Returns whether the batch has no pair.
    pub fn is_empty(&self) -> bool {
        self.query.is_empty()
    }
}
