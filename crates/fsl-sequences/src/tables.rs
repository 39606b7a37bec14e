//! Label tables: one class label per item, indexed by class, for the query and support side.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Display;
use std::hash::Hash;

use rand::{Rng, RngExt};

use crate::error::{Error, Result};

/// The labels that the query and the support items of a sequence come from.
///
/// Item indices in a batch index into the table of their side: query indices into the query
/// labels and support indices into the support labels. With [`LabelTables::shared`] both sides
/// use one table, and a query item is never paired with itself as a positive.
#[derive(Debug, Clone, Copy)]
pub enum LabelTables<'a, L> {
    /// One table serves as query and as support.
    Shared(&'a [L]),
    /// Queries and supports come from two tables, for example a test split queried against
    /// a labelled gallery.
    Separate {
        /// Class label of each query item.
        query: &'a [L],
        /// Class label of each support item.
        support: &'a [L],
    },
}

impl<'a, L> LabelTables<'a, L> {
    /// Uses one table for both sides.
    pub fn shared(labels: &'a [L]) -> Self {
        Self::Shared(labels)
    }

    /// Two tables: queries from `query`, supports from `support`.
    pub fn separate(query: &'a [L], support: &'a [L]) -> Self {
        Self::Separate { query, support }
    }
}

/// Items of one table grouped by class, classes in first-seen order.
#[derive(Debug, Clone)]
pub(crate) struct ClassIndex<L> {
    pub(crate) classes: Vec<L>,
    /// Item indices of each class, ascending.
    pub(crate) items: Vec<Vec<usize>>,
    /// Class position of each item.
    pub(crate) class_of: Vec<usize>,
    /// Rank of each item inside its class's item list.
    pub(crate) rank_of: Vec<usize>,
}

impl<L: Clone + Eq + Hash> ClassIndex<L> {
    pub(crate) fn build(labels: &[L]) -> Self {
        let mut position: HashMap<&L, usize> = HashMap::new();
        let mut index = Self {
            classes: Vec::new(),
            items: Vec::new(),
            class_of: Vec::with_capacity(labels.len()),
            rank_of: Vec::with_capacity(labels.len()),
        };

        for (item, label) in labels.iter().enumerate() {
            let class = match position.entry(label) {
                Entry::Occupied(entry) => *entry.get(),
                Entry::Vacant(entry) => {
                    entry.insert(index.classes.len());
                    index.classes.push(label.clone());
                    index.items.push(Vec::new());
                    index.classes.len() - 1
                }
            };
            index.class_of.push(class);
            index.rank_of.push(index.items[class].len());
            index.items[class].push(item);
        }
        index
    }

    pub(crate) fn len(&self) -> usize {
        self.class_of.len()
    }
}

/// Query and support tables with the class correspondence between them.
#[derive(Debug, Clone)]
pub(crate) struct PairedTables<L> {
    pub(crate) query: ClassIndex<L>,
    /// `None` when the query table also serves as support.
    separate_support: Option<ClassIndex<L>>,
    /// Support class position of each query class, `None` when the support has no such class.
    support_class: Vec<Option<usize>>,
}

impl<L> PairedTables<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Indexes both tables and rejects an empty one.
    pub(crate) fn build(tables: LabelTables<'_, L>) -> Result<Self> {
        let (query, separate_support) = match tables {
            LabelTables::Shared(labels) => (ClassIndex::build(labels), None),
            LabelTables::Separate { query, support } => (ClassIndex::build(query), Some(ClassIndex::build(support))),
        };

        if query.len() == 0 {
            return Err(Error::EmptyTable { table: "query" });
        }
        if separate_support.as_ref().is_some_and(|support| support.len() == 0) {
            return Err(Error::EmptyTable { table: "support" });
        }

        let support_class = match &separate_support {
            None => (0..query.classes.len()).map(Some).collect(),
            Some(support) => {
                let position: HashMap<&L, usize> = support
                    .classes
                    .iter()
                    .enumerate()
                    .map(|(class, label)| (label, class))
                    .collect();
                query.classes.iter().map(|label| position.get(label).copied()).collect()
            }
        };

        Ok(Self {
            query,
            separate_support,
            support_class,
        })
    }

    /// Checks that every query item has a positive partner (a support item of its class that
    /// is not itself) and a negative one (a support item of another class).
    pub(crate) fn check_partners(&self) -> Result<()> {
        let support = self.support();
        let shared = self.is_shared();

        for (class, label) in self.query.classes.iter().enumerate() {
            let positives = match self.support_class[class] {
                Some(support_class) if shared => support.items[support_class].len() - 1,
                Some(support_class) => support.items[support_class].len(),
                None => 0,
            };
            if positives == 0 {
                return Err(Error::NoPositivePartner {
                    class: label.to_string(),
                    shared,
                });
            }

            if support.classes.len() < 2 {
                return Err(Error::NoNegativePartner {
                    class: label.to_string(),
                });
            }
        }
        Ok(())
    }
}

impl<L> PairedTables<L> {
    pub(crate) fn support(&self) -> &ClassIndex<L> {
        self.separate_support.as_ref().unwrap_or(&self.query)
    }

    pub(crate) fn is_shared(&self) -> bool {
        self.separate_support.is_none()
    }

    /// Returns whether query item `query` and support item `support` share a class.
    pub(crate) fn matches(&self, query: usize, support: usize) -> bool {
        self.support_class[self.query.class_of[query]] == Some(self.support().class_of[support])
    }

    /// Number of support items that can be the positive partner of query item `query`.
    pub(crate) fn positive_count(&self, query: usize) -> usize {
        let class = self.support_class[self.query.class_of[query]].expect("checked by check_partners");
        let count = self.support().items[class].len();
        if self.is_shared() { count - 1 } else { count }
    }

    /// Positive partner number `position` (in `0..positive_count(query)`) of query item `query`.
    pub(crate) fn positive(&self, query: usize, position: usize) -> usize {
        let class = self.support_class[self.query.class_of[query]].expect("checked by check_partners");
        let items = &self.support().items[class];

        // In a shared table the query itself is left out by skipping its rank.
        if self.is_shared() && position >= self.query.rank_of[query] {
            return items[position + 1];
        }
        items[position]
    }

    /// Draws a negative partner of query item `query`: a class uniformly among the support
    /// classes other than the query's, then an item uniformly within it.
    pub(crate) fn draw_negative<R: Rng + ?Sized>(&self, query: usize, rng: &mut R) -> usize {
        let support = self.support();
        let own = self.support_class[self.query.class_of[query]];

        let class = match own {
            Some(own) => {
                let drawn = rng.random_range(0..support.classes.len() - 1);
                if drawn >= own { drawn + 1 } else { drawn }
            }
            None => rng.random_range(0..support.classes.len()),
        };
        let items = &support.items[class];
        items[rng.random_range(0..items.len())]
    }

    /// Draws a positive partner of query item `query` uniformly.
    pub(crate) fn draw_positive<R: Rng + ?Sized>(&self, query: usize, rng: &mut R) -> usize {
        let position = rng.random_range(0..self.positive_count(query));
        self.positive(query, position)
    }
}
