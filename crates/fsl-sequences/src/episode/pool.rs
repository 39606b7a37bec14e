//! Turns item labels and options into the classes and groups a sampler may draw from.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::hash::Hash;

use super::options::SamplerOptions;
use super::spec::EpisodeSpec;
use crate::error::{Error, Result};

/// Classes an episode may be drawn from, all with at least `k_shot + q_query` items.
#[derive(Debug, Clone)]
pub(crate) struct ClassPool<L> {
    /// Eligible class ids in first-seen order.
    pub(crate) classes: Vec<L>,
    /// Item indices of each eligible class, ascending.
    pub(crate) items: Vec<Vec<usize>>,
    /// Classes excluded because they have too few items, in first-seen order.
    pub(crate) skipped: Vec<L>,
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

impl<L> ClassPool<L>
where
    L: Clone + Eq + Hash + Display,
{
    /// Indexes the labels, applies the options and checks that every episode is feasible.
    pub(crate) fn build(labels: &[L], spec: &EpisodeSpec, options: &SamplerOptions<L>) -> Result<Self> {
        let index = LabelIndex::build(labels, options.groups.as_deref())?;

        let (classes, items, groups) = filter_allowed(index, options.allowed_classes.as_deref())?;

        let need = spec.items_per_class();
        let mut pool = Self {
            classes: Vec::new(),
            items: Vec::new(),
            skipped: Vec::new(),
            groups: None,
        };
        let mut pool_groups = Vec::new();
        for ((class, class_items), group) in classes.into_iter().zip(items).zip(groups) {
            if class_items.len() >= need {
                pool.classes.push(class);
                pool.items.push(class_items);
                pool_groups.push(group);
                continue;
            }

            if !options.skip_small_classes {
                return Err(Error::ClassTooSmall {
                    class: class.to_string(),
                    have: class_items.len(),
                    need,
                });
            }
            pool.skipped.push(class);
        }

        if !pool.skipped.is_empty() {
            tracing::warn!(
                need,
                skipped = %join_display(&pool.skipped),
                "skipping classes with fewer items than k_shot + q_query"
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
