//! Turns item labels and options into the classes and groups a sampler may draw from.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::hash::Hash;

use super::options::SamplerOptions;
use super::spec::EpisodeSpec;
use crate::error::{Error, Result};
use crate::tables::LabelTables;

/// Classes an episode may be drawn from, each with enough items for the largest episode.
#[derive(Debug, Clone)]
pub(crate) struct ClassPool<L> {
    /// Eligible class ids in first-seen order (of the support table when there are two).
    pub(crate) classes: Vec<L>,
    /// Support item indices of each eligible class, ascending; with a shared table also the
    /// items its queries come from.
    pub(crate) items: Vec<Vec<usize>>,
    /// Query item indices of each eligible class when queries come from their own table.
    pub(crate) query_items: Option<Vec<Vec<usize>>>,
    /// Classes excluded because they have too few items, in first-seen order.
    pub(crate) skipped: Vec<L>,
    /// Classes excluded because only one of two tables has them, in first-seen order.
    pub(crate) unmatched: Vec<L>,
    /// Eligible groups in within-group mode.
    pub(crate) groups: Option<Vec<ClassGroup>>,
}

/// A group with at least `n_way` eligible classes.
#[derive(Debug, Clone)]
pub(crate) struct ClassGroup {
    pub(crate) name: String,
    /// Positions in [`ClassPool::classes`].
    pub(crate) classes: Vec<usize>,
}

/// All classes of the labels before any filtering, in first-seen order.
struct LabelIndex<L> {
    classes: Vec<L>,
    items: Vec<Vec<usize>>,
    groups: Option<Vec<String>>,
}

/// A class that passed the allowed-class filter, before the size check.
struct Candidate<L> {
    class: L,
    support: Vec<usize>,
    /// Query items from the query table, `None` when the support items serve as queries too.
    query: Option<Vec<usize>>,
    group: Option<String>,
}

impl<L> ClassPool<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Indexes the tables, applies the options and checks that every episode is feasible.
    pub(crate) fn build(tables: LabelTables<'_, L>, spec: &EpisodeSpec, options: &SamplerOptions<L>) -> Result<Self> {
        let (candidates, unmatched) = match tables {
            LabelTables::Shared(labels) => (shared_candidates(labels, options)?, Vec::new()),
            LabelTables::Separate { query, support } => matched_candidates(query, support, options)?,
        };

        let mut pool = Self {
            classes: Vec::new(),
            items: Vec::new(),
            query_items: None,
            skipped: Vec::new(),
            unmatched,
            groups: None,
        };
        let mut query_items = Vec::new();
        let mut pool_groups = Vec::new();
        let separate = matches!(tables, LabelTables::Separate { .. });
        for candidate in candidates {
            if let Some(error) = candidate.shortfall(spec) {
                if !options.skip_small_classes {
                    return Err(error);
                }
                pool.skipped.push(candidate.class);
                continue;
            }

            pool.classes.push(candidate.class);
            pool.items.push(candidate.support);
            query_items.extend(candidate.query);
            pool_groups.push(candidate.group);
        }
        if separate {
            pool.query_items = Some(query_items);
        }

        if !pool.skipped.is_empty() {
            tracing::warn!(
                k_shot = spec.k_shot(),
                q_query = spec.q_query(),
                skipped = %join_display(&pool.skipped),
                "skipping classes with too few items for k_shot + q_query"
            );
        }

        pool.check_class_count(spec, options)?;

        if options.groups.is_some() {
            let groups = group_classes(&pool_groups, spec.n_way())?;
            pool.groups = Some(groups);
        }

        Ok(pool)
    }

    fn check_class_count(&self, spec: &EpisodeSpec, options: &SamplerOptions<L>) -> Result<()> {
        let n_way = spec.n_way();
        let eligible = self.classes.len();
        if eligible >= n_way {
            return Ok(());
        }

        if !self.skipped.is_empty() {
            return Err(Error::NotEnoughEligibleClasses {
                n_way,
                eligible,
                need: spec.items_per_class(),
                too_small: self.skipped.iter().map(ToString::to_string).collect(),
            });
        }

        if !self.unmatched.is_empty() {
            return Err(Error::NotEnoughMatchedClasses {
                n_way,
                matched: eligible,
                unmatched: self.unmatched.iter().map(ToString::to_string).collect(),
            });
        }

        if options.allowed_classes.is_some() {
            return Err(Error::NotEnoughAllowedClasses {
                n_way,
                allowed: eligible,
            });
        }

        // Without filtering or skipping, every class of the labels is eligible.
        Err(Error::NotEnoughClasses {
            n_way,
            available: eligible,
        })
    }
}

impl<L: Display> Candidate<L> {
    /// Returns the error that makes this class too small for `spec`, if any.
    fn shortfall(&self, spec: &EpisodeSpec) -> Option<Error> {
        let Some(query) = &self.query else {
            let need = spec.items_per_class();
            return (self.support.len() < need).then(|| Error::ClassTooSmall {
                class: self.class.to_string(),
                have: self.support.len(),
                need,
            });
        };

        let sides = [
            ("support", "k_shot", self.support.len(), spec.k_shot()),
            ("query", "q_query", query.len(), spec.q_query()),
        ];
        let (table, parameter, have, need) = sides.into_iter().find(|&(_, _, have, need)| have < need)?;
        Some(Error::ClassTooSmallInTable {
            class: self.class.to_string(),
            table,
            parameter,
            have,
            need,
        })
    }
}

/// Classes of one table that serves as support and query, filtered by the allowed classes.
fn shared_candidates<L>(labels: &[L], options: &SamplerOptions<L>) -> Result<Vec<Candidate<L>>>
where
    L: Clone + Eq + Hash + Display,
{
    let index = LabelIndex::build(labels, options.groups.as_deref())?;
    let (classes, items, groups) = filter_allowed(index, options.allowed_classes.as_deref())?;

    let candidates = classes
        .into_iter()
        .zip(items)
        .zip(groups)
        .map(|((class, support), group)| Candidate {
            class,
            support,
            query: None,
            group,
        })
        .collect();
    Ok(candidates)
}

/// Classes that both tables have, matched by label, in the support table's first-seen order,
/// and the allowed classes that only one table has.
///
/// Groups, when given, are one per support item.
fn matched_candidates<L>(query: &[L], support: &[L], options: &SamplerOptions<L>) -> Result<(Vec<Candidate<L>>, Vec<L>)>
where
    L: Clone + Eq + Hash + Display,
{
    if support.is_empty() {
        return Err(Error::EmptyTable { table: "support" });
    }
    if query.is_empty() {
        return Err(Error::EmptyTable { table: "query" });
    }

    let support_index = LabelIndex::build(support, options.groups.as_deref())?;
    let query_index = LabelIndex::build(query, None)?;
    let allowed = allowed_in_either(&support_index, &query_index, options.allowed_classes.as_deref())?;
    let is_allowed = |class: &L| allowed.as_ref().is_none_or(|allowed| allowed.contains(class));

    let in_support: HashSet<&L> = support_index.classes.iter().collect();
    let mut unmatched_classes: Vec<(L, &'static str, &'static str)> = Vec::new();
    let mut query_items: HashMap<&L, &Vec<usize>> = HashMap::with_capacity(query_index.classes.len());
    for (class, items) in query_index.classes.iter().zip(&query_index.items) {
        if !is_allowed(class) {
            continue;
        }
        if in_support.contains(class) {
            query_items.insert(class, items);
        } else {
            unmatched_classes.push((class.clone(), "query", "support"));
        }
    }

    let groups: Vec<Option<String>> = match support_index.groups {
        Some(groups) => groups.into_iter().map(Some).collect(),
        None => vec![None; support_index.classes.len()],
    };
    let mut candidates = Vec::new();
    for ((class, items), group) in support_index.classes.into_iter().zip(support_index.items).zip(groups) {
        if !is_allowed(&class) {
            continue;
        }
        match query_items.get(&class) {
            Some(&query) => candidates.push(Candidate {
                query: Some(query.clone()),
                class,
                support: items,
                group,
            }),
            None => unmatched_classes.push((class, "support", "query")),
        }
    }

    // Support-only classes were found second but are reported first, in support order.
    unmatched_classes.sort_by_key(|&(_, present_in, _)| present_in != "support");
    if let Some((class, present_in, missing_from)) = unmatched_classes.first()
        && !options.skip_unmatched_classes
    {
        return Err(Error::UnmatchedClass {
            class: class.to_string(),
            present_in,
            missing_from,
        });
    }

    let unmatched: Vec<L> = unmatched_classes.into_iter().map(|(class, _, _)| class).collect();
    if !unmatched.is_empty() {
        tracing::warn!(
            unmatched = %join_display(&unmatched),
            "skipping classes that only one of the query and support tables has"
        );
    }
    Ok((candidates, unmatched))
}

/// Checks that every allowed class occurs in one of the tables and returns the allowed set.
fn allowed_in_either<'a, L>(
    support: &LabelIndex<L>,
    query: &LabelIndex<L>,
    allowed: Option<&'a [L]>,
) -> Result<Option<HashSet<&'a L>>>
where
    L: Eq + Hash + Display,
{
    let Some(allowed) = allowed else {
        return Ok(None);
    };

    let present: HashSet<&L> = support.classes.iter().chain(&query.classes).collect();
    if let Some(class) = allowed.iter().find(|class| !present.contains(class)) {
        return Err(Error::UnknownAllowedClass {
            class: class.to_string(),
        });
    }
    Ok(Some(allowed.iter().collect()))
}

impl<L> LabelIndex<L>
where
    L: Clone + Eq + Hash + Display,
{
    fn build(labels: &[L], item_groups: Option<&[String]>) -> Result<Self> {
        if let Some(item_groups) = item_groups
            && item_groups.len() != labels.len()
        {
            return Err(Error::GroupCountMismatch {
                groups: item_groups.len(),
                labels: labels.len(),
            });
        }

        let mut position: HashMap<&L, usize> = HashMap::new();
        let mut classes = Vec::new();
        let mut items: Vec<Vec<usize>> = Vec::new();
        let mut class_groups: Vec<String> = Vec::new();
        for (item, label) in labels.iter().enumerate() {
            let class = match position.entry(label) {
                Entry::Occupied(entry) => *entry.get(),
                Entry::Vacant(entry) => {
                    entry.insert(classes.len());
                    classes.push(label.clone());
                    items.push(Vec::new());
                    if let Some(item_groups) = item_groups {
                        class_groups.push(item_groups[item].clone());
                    }
                    classes.len() - 1
                }
            };
            items[class].push(item);

            if let Some(item_groups) = item_groups
                && item_groups[item] != class_groups[class]
            {
                return Err(Error::ClassInSeveralGroups {
                    class: label.to_string(),
                    first_group: class_groups[class].clone(),
                    second_group: item_groups[item].clone(),
                });
            }
        }

        Ok(Self {
            classes,
            items,
            groups: item_groups.map(|_| class_groups),
        })
    }
}

/// Eligible classes with their items and, in within-group mode, their group names.
type FilteredClasses<L> = (Vec<L>, Vec<Vec<usize>>, Vec<Option<String>>);

/// Keeps the allowed classes, in first-seen order so the result does not depend on the order
/// of the allowed list.
fn filter_allowed<L>(index: LabelIndex<L>, allowed: Option<&[L]>) -> Result<FilteredClasses<L>>
where
    L: Clone + Eq + Hash + Display,
{
    let groups: Vec<Option<String>> = match index.groups {
        Some(groups) => groups.into_iter().map(Some).collect(),
        None => vec![None; index.classes.len()],
    };

    let Some(allowed) = allowed else {
        return Ok((index.classes, index.items, groups));
    };

    let present: HashSet<&L> = index.classes.iter().collect();
    for class in allowed {
        if !present.contains(class) {
            return Err(Error::UnknownAllowedClass {
                class: class.to_string(),
            });
        }
    }

    let allowed: HashSet<&L> = allowed.iter().collect();
    let mut classes = Vec::new();
    let mut items = Vec::new();
    let mut kept_groups = Vec::new();
    for ((class, class_items), group) in index.classes.into_iter().zip(index.items).zip(groups) {
        if allowed.contains(&class) {
            classes.push(class);
            items.push(class_items);
            kept_groups.push(group);
        }
    }
    Ok((classes, items, kept_groups))
}

/// Groups eligible classes by group name and keeps the groups that can fill an episode.
fn group_classes(class_groups: &[Option<String>], n_way: usize) -> Result<Vec<ClassGroup>> {
    let mut position: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<ClassGroup> = Vec::new();
    for (class, group) in class_groups.iter().enumerate() {
        let name = group.as_deref().unwrap_or_default();
        let slot = *position.entry(name).or_insert_with(|| {
            groups.push(ClassGroup {
                name: name.to_string(),
                classes: Vec::new(),
            });
            groups.len() - 1
        });
        groups[slot].classes.push(class);
    }

    let largest = groups
        .iter()
        .max_by_key(|group| group.classes.len())
        .map(|group| (group.name.clone(), group.classes.len()));

    let (eligible, too_small): (Vec<ClassGroup>, Vec<ClassGroup>) =
        groups.into_iter().partition(|group| group.classes.len() >= n_way);
    for group in &too_small {
        tracing::warn!(
            group = %group.name,
            eligible_classes = group.classes.len(),
            n_way,
            "skipping group with fewer eligible classes than n_way"
        );
    }

    if eligible.is_empty() {
        let (largest_group, largest) = largest.unwrap_or_default();
        return Err(Error::NoEligibleGroup {
            n_way,
            largest_group,
            largest,
        });
    }
    Ok(eligible)
}

fn join_display<L: Display>(values: &[L]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
