//! Episodes whose support items come from one table and query items from another: property
//! tests of the episode invariants over random table pairs, and the errors of class matching.

use std::collections::HashSet;

use fsl_sequences::{
    Episode, EpisodeRanges, EpisodeSampler, EpisodeSequence, EpisodeSpec, Error, LabelTables, SamplerOptions, Sequence,
    VariableEpisodeSampler,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Builds a label table from class sizes: class `c` (labelled `100 + c`) has `sizes[c]` items,
/// shuffled over the table by `order_seed`. A size of 0 leaves the class out of the table.
fn table(sizes: &[usize], order_seed: u64) -> Vec<u32> {
    let mut labels: Vec<u32> = sizes
        .iter()
        .enumerate()
        .flat_map(|(class, &size)| std::iter::repeat_n(100 + class as u32, size))
        .collect();
    labels.shuffle(&mut StdRng::seed_from_u64(order_seed));
    labels
}

/// Checks every invariant of a two-table episode against the tables it was drawn from.
fn check_episode(episode: &Episode<u32>, support: &[u32], query: &[u32], n_way: usize, k_shot: usize, q_query: usize) {
    assert_eq!(episode.class_ids.len(), n_way);
    let distinct: HashSet<u32> = episode.class_ids.iter().copied().collect();
    assert_eq!(distinct.len(), n_way, "classes repeat: {:?}", episode.class_ids);

    assert_eq!(episode.support.len(), n_way * k_shot);
    assert_eq!(episode.query.len(), n_way * q_query);
    for label in 0..n_way as u32 {
        assert_eq!(episode.support_labels.iter().filter(|&&l| l == label).count(), k_shot);
        assert_eq!(episode.query_labels.iter().filter(|&&l| l == label).count(), q_query);
    }

    // One label map for both sets, each set indexing its own table.
    for (&item, &label) in episode.support.iter().zip(&episode.support_labels) {
        assert_eq!(support[item], episode.class_ids[label as usize]);
    }
    for (&item, &label) in episode.query.iter().zip(&episode.query_labels) {
        assert_eq!(query[item], episode.class_ids[label as usize]);
    }

    let support_items: HashSet<usize> = episode.support.iter().copied().collect();
    let query_items: HashSet<usize> = episode.query.iter().copied().collect();
    assert_eq!(support_items.len(), episode.support.len(), "support repeats an item");
    assert_eq!(query_items.len(), episode.query.len(), "query repeats an item");
}

/// Support and query class sizes for the same classes, each at least the episode's need and
/// at least 1, so every class occurs in both tables.
fn sized_tables() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, usize, usize, usize)> {
    (1usize..4, 0usize..4, 2usize..7).prop_flat_map(|(k_shot, q_query, classes)| {
        (
            prop::collection::vec(k_shot..k_shot + 4, classes),
            prop::collection::vec(q_query.max(1)..q_query + 4, classes),
            1..=classes,
            Just(k_shot),
            Just(q_query),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn two_table_episodes_keep_invariants(
        (support_sizes, query_sizes, n_way, k_shot, q_query) in sized_tables(),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let support = table(&support_sizes, order_seed);
        let query = table(&query_sizes, order_seed ^ 1);
        let spec = EpisodeSpec::new(n_way, k_shot, q_query).unwrap();
        let tables = LabelTables::separate(&query, &support);
        let sampler = EpisodeSampler::from_tables(tables, spec, SamplerOptions::new()).unwrap();
        prop_assert!(!sampler.shares_table());

        let sequence = EpisodeSequence::new(sampler, 5, seed).unwrap();
        for episode in sequence.epoch(0) {
            check_episode(&episode.unwrap(), &support, &query, n_way, k_shot, q_query);
        }
    }

    #[test]
    fn variable_two_table_episodes_keep_invariants(
        (support_sizes, query_sizes, n_way, k_shot, q_query) in sized_tables(),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let support = table(&support_sizes, order_seed);
        let query = table(&query_sizes, order_seed ^ 1);
        let ranges = EpisodeRanges::new(1..=n_way, 1..=k_shot, 0..=q_query).unwrap();
        let tables = LabelTables::separate(&query, &support);
        let sampler = VariableEpisodeSampler::from_tables(tables, ranges, SamplerOptions::new()).unwrap();

        for index in 0..5 {
            let episode = sampler.episode(seed, index);
            let n_way = episode.class_ids.len();
            let k_shot = episode.support.len() / n_way;
            let q_query = episode.query.len() / n_way;
            check_episode(&episode, &support, &query, n_way, k_shot, q_query);
        }
    }

    /// A class missing from one table is skipped when asked, and never drawn.
    #[test]
    fn unmatched_classes_skipped_and_never_drawn(
        (support_sizes, query_sizes, _, k_shot, q_query) in sized_tables(),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        // Class 0 only in the support table, one extra class only in the query table.
        let mut query_sizes = query_sizes;
        query_sizes[0] = 0;
        query_sizes.push(q_query.max(1));
        let support = table(&support_sizes, order_seed);
        let query = table(&query_sizes, order_seed ^ 1);
        let matched = support_sizes.len() - 1;
        prop_assume!(matched >= 1);

        let spec = EpisodeSpec::new(matched, k_shot, q_query).unwrap();
        let options = SamplerOptions::new().with_skip_unmatched_classes(true);
        let sampler = EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, options).unwrap();

        let query_only = 100 + support_sizes.len() as u32;
        prop_assert_eq!(sampler.unmatched_classes(), &[100, query_only]);
        for index in 0..5 {
            let episode = sampler.episode(seed, index);
            prop_assert!(!episode.class_ids.contains(&100));
            prop_assert!(!episode.class_ids.contains(&query_only));
            check_episode(&episode, &support, &query, matched, k_shot, q_query);
        }
    }
}

#[test]
fn shared_table_from_tables_equals_new() {
    let labels = table(&[4, 5, 6, 4], 3);
    let spec = EpisodeSpec::new(3, 2, 2).unwrap();

    let plain = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).unwrap();
    let shared = EpisodeSampler::from_tables(LabelTables::shared(&labels), spec, SamplerOptions::new()).unwrap();

    assert!(plain.shares_table());
    for index in 0..20 {
        let episode = plain.episode(9, index);
        assert_eq!(episode, shared.episode(9, index));

        let support: HashSet<usize> = episode.support.iter().copied().collect();
        assert!(
            episode.query.iter().all(|item| !support.contains(item)),
            "episode {index}"
        );
    }
}

#[test]
fn support_only_class_names_class_and_tables() {
    let support = [1u32, 1, 2, 2, 3, 3];
    let query = [1u32, 2];
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();

    let error =
        EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, SamplerOptions::new()).unwrap_err();

    match &error {
        Error::UnmatchedClass {
            class,
            present_in,
            missing_from,
        } => {
            assert_eq!(class, "3");
            assert_eq!(*present_in, "support");
            assert_eq!(*missing_from, "query");
        }
        other => panic!("expected UnmatchedClass, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("class 3"), "{message}");
    assert!(message.contains("skip_unmatched_classes"), "{message}");
}

#[test]
fn query_only_class_is_error() {
    let support = [1u32, 1, 2, 2];
    let query = [1u32, 2, 7];
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();

    let error =
        EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, SamplerOptions::new()).unwrap_err();

    assert!(
        matches!(
            &error,
            Error::UnmatchedClass { class, present_in: "query", missing_from: "support" } if class == "7"
        ),
        "{error:?}"
    );
}

#[test]
fn allowed_classes_ignore_unmatched_outside_list() {
    let support = [1u32, 1, 2, 2, 3, 3];
    let query = [1u32, 2, 9];
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let options = SamplerOptions::new().with_allowed_classes([1, 2]);

    let sampler = EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, options).unwrap();

    assert_eq!(sampler.eligible_classes(), [1, 2]);
    assert!(sampler.unmatched_classes().is_empty());
}

#[test]
fn too_few_query_items_names_table_and_parameter() {
    let support = [1u32, 1, 2, 2];
    let query = [1u32, 1, 2];
    let spec = EpisodeSpec::new(2, 2, 2).unwrap();

    let error =
        EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, SamplerOptions::new()).unwrap_err();

    match &error {
        Error::ClassTooSmallInTable {
            class,
            table,
            parameter,
            have,
            need,
        } => {
            assert_eq!(class, "2");
            assert_eq!(*table, "query");
            assert_eq!(*parameter, "q_query");
            assert_eq!(*have, 1);
            assert_eq!(*need, 2);
        }
        other => panic!("expected ClassTooSmallInTable, got {other:?}"),
    }
    assert!(error.to_string().contains("q_query = 2"), "{error}");
}

#[test]
fn too_few_support_items_skipped_when_asked() {
    let support = [1u32, 1, 2, 3, 3];
    let query = [1u32, 2, 3];
    let spec = EpisodeSpec::new(2, 2, 1).unwrap();
    let options = SamplerOptions::new().with_skip_small_classes(true);

    let sampler = EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, options).unwrap();

    assert_eq!(sampler.skipped_classes(), [2]);
    assert_eq!(sampler.eligible_classes(), [1, 3]);
}

#[test]
fn too_few_matched_classes_lists_unmatched() {
    let support = [1u32, 2, 3];
    let query = [1u32, 4];
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let options = SamplerOptions::new().with_skip_unmatched_classes(true);

    let error = EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, options).unwrap_err();

    match &error {
        Error::NotEnoughMatchedClasses {
            n_way,
            matched,
            unmatched,
        } => {
            assert_eq!(*n_way, 2);
            assert_eq!(*matched, 1);
            assert_eq!(unmatched, &["2", "3", "4"]);
        }
        other => panic!("expected NotEnoughMatchedClasses, got {other:?}"),
    }
}

#[test]
fn empty_query_table_rejected() {
    let support = [1u32, 2];
    let query: [u32; 0] = [];
    let spec = EpisodeSpec::new(1, 1, 0).unwrap();

    let error =
        EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, SamplerOptions::new()).unwrap_err();

    assert!(matches!(error, Error::EmptyTable { table: "query" }), "{error:?}");
}

#[test]
fn groups_follow_support_table() {
    let support = [1u32, 1, 2, 2, 3, 3];
    let query = [1u32, 2, 3];
    let groups = ["a", "a", "a", "a", "b", "b"];
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let options = SamplerOptions::new().with_groups(groups);

    let sampler = EpisodeSampler::from_tables(LabelTables::separate(&query, &support), spec, options).unwrap();

    assert_eq!(sampler.eligible_groups(), Some(vec!["a"]));
    for index in 0..10 {
        let mut classes = sampler.episode(4, index).class_ids;
        classes.sort_unstable();
        assert_eq!(classes, [1, 2]);
    }
}
