//! Property tests of every sequence over random label tables and seeds.
//!
//! Tables are small (2 to 7 classes of 1 to 7 items, items of a class scattered over the table)
//! so each property runs a few dozen cases in well under a second.

use std::collections::{HashMap, HashSet};

use fsl_sequences::{
    BalancedPairs, Episode, EpisodeRanges, EpisodeSampler, EpisodeSequence, EpisodeSpec, KShotBatches, KShotSpec,
    LabelTables, PairBatch, Product, RandomBalancedPairs, RandomPairs, RandomProduct, SamplerOptions, Sequence,
    SingleImages, TargetEncoding, Targets, Triplets, VariableEpisodeSampler,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Builds a label table from class sizes: class `c` (labelled `100 + c`, so labels are not
/// positions) has `sizes[c]` items, and the items are shuffled over the table by `order_seed`.
fn table(sizes: &[usize], order_seed: u64) -> Vec<u32> {
    let mut labels: Vec<u32> = sizes
        .iter()
        .enumerate()
        .flat_map(|(class, &size)| std::iter::repeat_n(100 + class as u32, size))
        .collect();
    labels.shuffle(&mut StdRng::seed_from_u64(order_seed));
    labels
}

fn sizes(classes: std::ops::Range<usize>, items: std::ops::Range<usize>) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(items, classes)
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

/// Checks every invariant of an episode against the labels it was drawn from.
fn check_episode(episode: &Episode<u32>, labels: &[u32], n_way: usize, k_shot: usize, q_query: usize) {
    assert_eq!(episode.class_ids.len(), n_way);
    let distinct: HashSet<u32> = episode.class_ids.iter().copied().collect();
    assert_eq!(distinct.len(), n_way, "classes repeat: {:?}", episode.class_ids);

    assert_eq!(episode.support.len(), n_way * k_shot);
    assert_eq!(episode.query.len(), n_way * q_query);
    for label in 0..n_way as u32 {
        assert_eq!(episode.support_labels.iter().filter(|&&l| l == label).count(), k_shot);
        assert_eq!(episode.query_labels.iter().filter(|&&l| l == label).count(), q_query);
    }

    // One map for both sets: the item's class is the class its episode label stands for.
    for (&item, &label) in episode.support.iter().zip(&episode.support_labels) {
        assert_eq!(labels[item], episode.class_ids[label as usize]);
    }
    for (&item, &label) in episode.query.iter().zip(&episode.query_labels) {
        assert_eq!(labels[item], episode.class_ids[label as usize]);
    }

    let support: HashSet<usize> = episode.support.iter().copied().collect();
    let query: HashSet<usize> = episode.query.iter().copied().collect();
    assert_eq!(support.len(), episode.support.len(), "support repeats an item");
    assert_eq!(query.len(), episode.query.len(), "query repeats an item");
    assert!(support.is_disjoint(&query), "support and query share an item");
}

/// Collects every batch of an epoch, failing the test on an error.
fn epoch<S: Sequence>(sequence: &S, epoch: u64) -> Vec<S::Batch> {
    sequence.epoch(epoch).collect::<Result<_, _>>().unwrap()
}

/// Checks the targets and, for a shared table, that no item is paired with itself as a match.
fn check_pair_targets(batch: &PairBatch, query_labels: &[u32], support_labels: &[u32]) {
    for ((&query, &support), &target) in batch.query.iter().zip(&batch.support).zip(&batch.targets) {
        assert_eq!(target, query_labels[query] == support_labels[support]);
    }
}

/// Asserts that two epochs of a sequence differ and that a second instance repeats them.
fn check_epoch_shuffles<S>(first: &S, second: &S)
where
    S: Sequence,
    S::Batch: PartialEq + std::fmt::Debug,
{
    let epoch_zero = epoch(first, 0);
    assert_ne!(epoch_zero, epoch(first, 1), "epochs 0 and 1 have the same order");
    assert_eq!(epoch_zero, epoch(second, 0), "equal seeds give different epochs");

    // Resuming in the middle of an epoch gives the batches of the full pass.
    let middle = first.len() / 2;
    let resumed: Vec<S::Batch> = first.epoch_from(0, middle).collect::<Result<_, _>>().unwrap();
    assert_eq!(resumed, epoch_zero[middle..]);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn episodes_hold_their_invariants(
        sizes in sizes(2..8, 1..8),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
        n_way in 1usize..5,
        k_shot in 1usize..4,
        q_query in 0usize..4,
    ) {
        let labels = table(&sizes, order_seed);
        let spec = EpisodeSpec::new(n_way, k_shot, q_query).unwrap();
        let result = EpisodeSampler::new(&labels, spec, SamplerOptions::new());

        // The sampler must exist exactly when every class is large enough and there are enough.
        let feasible = sizes.len() >= n_way && sizes.iter().all(|&size| size >= k_shot + q_query);
        prop_assert_eq!(result.is_ok(), feasible);
        let Ok(sampler) = result else { return Ok(()) };

        for index in 0..20 {
            check_episode(&sampler.episode(seed, index), &labels, n_way, k_shot, q_query);
        }
    }

    #[test]
    fn skipped_classes_never_drawn(
        sizes in sizes(2..8, 1..8),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let labels = table(&sizes, order_seed);
        let spec = EpisodeSpec::new(1, 2, 2).unwrap();
        let options = SamplerOptions::new().with_skip_small_classes(true);
        let Ok(sampler) = EpisodeSampler::new(&labels, spec, options) else {
            prop_assert!(sizes.iter().all(|&size| size < 4));
            return Ok(());
        };

        for index in 0..20 {
            let episode = sampler.episode(seed, index);
            let class = (episode.class_ids[0] - 100) as usize;
            prop_assert!(sizes[class] >= 4, "class of {} items drawn", sizes[class]);
        }
    }

    #[test]
    fn variable_episodes_stay_in_ranges(
        sizes in sizes(4..8, 5..9),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let labels = table(&sizes, order_seed);
        let ranges = EpisodeRanges::new(2..=4, 1..=3, 0..=2).unwrap();
        let sampler = VariableEpisodeSampler::new(&labels, ranges, SamplerOptions::new()).unwrap();

        let mut shapes = HashSet::new();
        for index in 0..40 {
            let episode = sampler.episode(seed, index);
            let n_way = episode.class_ids.len();
            let k_shot = episode.support.len() / n_way;
            let q_query = episode.query.len() / n_way;
            prop_assert!((2..=4).contains(&n_way));
            prop_assert!((1..=3).contains(&k_shot));
            prop_assert!(q_query <= 2);
            check_episode(&episode, &labels, n_way, k_shot, q_query);
            shapes.insert((n_way, k_shot, q_query));
        }
        // 36 shapes drawn uniformly: 40 episodes that all share one shape means no variation.
        prop_assert!(shapes.len() > 1);
    }

    #[test]
    fn episode_sequence_epochs_differ_and_repeat(
        sizes in sizes(3..8, 3..8),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let labels = table(&sizes, order_seed);
        let spec = EpisodeSpec::new(3, 1, 2).unwrap();
        let build = || {
            let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).unwrap();
            EpisodeSequence::new(sampler, 6, seed).unwrap()
        };
        check_epoch_shuffles(&build(), &build());
    }

    #[test]
    fn balanced_pairs_half_match(
        sizes in sizes(2..8, 2..8),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
        half_pairs in 1usize..4,
        half_batch in 1usize..6,
    ) {
        let labels = table(&sizes, order_seed);
        let pairs_per_query = 2 * half_pairs;
        let sequence =
            BalancedPairs::new(LabelTables::shared(&labels), pairs_per_query, 2 * half_batch, seed).unwrap();

        let mut matching_per_query: HashMap<usize, usize> = HashMap::new();
        let mut pairs_per_item: HashMap<usize, usize> = HashMap::new();
        for batch in epoch(&sequence, 3) {
            // Every batch, the last one included, has an even length and half matching pairs.
            let matching = batch.targets.iter().filter(|&&target| target).count();
            prop_assert_eq!(2 * matching, batch.len());
            check_pair_targets(&batch, &labels, &labels);

            for ((&query, &support), &target) in batch.query.iter().zip(&batch.support).zip(&batch.targets) {
                prop_assert_ne!(query, support, "an item is paired with itself");
                *pairs_per_item.entry(query).or_default() += 1;
                *matching_per_query.entry(query).or_default() += usize::from(target);
            }
        }

        prop_assert_eq!(pairs_per_item.len(), labels.len());
        prop_assert!(pairs_per_item.values().all(|&count| count == pairs_per_query));
        prop_assert!(matching_per_query.values().all(|&count| count == half_pairs));
    }

    #[test]
    fn balanced_positives_distinct_when_possible(
        sizes in sizes(2..6, 2..8),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let labels = table(&sizes, order_seed);
        let sequence = BalancedPairs::new(LabelTables::shared(&labels), 4, 4, seed).unwrap();

        let mut positives: HashMap<usize, Vec<usize>> = HashMap::new();
        for batch in epoch(&sequence, 0) {
            for ((&query, &support), &target) in batch.query.iter().zip(&batch.support).zip(&batch.targets) {
                if target {
                    positives.entry(query).or_default().push(support);
                }
            }
        }
        for (query, partners) in positives {
            let available = labels.iter().filter(|&&label| label == labels[query]).count() - 1;
            let distinct: HashSet<usize> = partners.iter().copied().collect();
            prop_assert_eq!(distinct.len(), partners.len().min(available));
        }
    }

    #[test]
    fn random_balanced_pairs_alternate(
        sizes in sizes(2..8, 2..8),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
        half_batch in 1usize..6,
    ) {
        let labels = table(&sizes, order_seed);
        let sequence = RandomBalancedPairs::new(LabelTables::shared(&labels), 2 * half_batch, seed).unwrap();

        let mut queries = Vec::new();
        for batch in epoch(&sequence, 0) {
            check_pair_targets(&batch, &labels, &labels);
            let matching = batch.targets.iter().filter(|&&target| target).count();
            prop_assert_eq!(matching, batch.len().div_ceil(2));
            prop_assert!(batch.query.iter().zip(&batch.support).all(|(query, support)| query != support));
            queries.extend(batch.query);
        }

        queries.sort_unstable();
        prop_assert_eq!(queries, (0..labels.len()).collect::<Vec<_>>());
    }

    #[test]
    fn random_pairs_targets_and_coverage(
        query_sizes in sizes(1..6, 1..6),
        support_sizes in sizes(1..6, 1..6),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
        batch_size in 1usize..7,
    ) {
        let query_labels = table(&query_sizes, order_seed);
        let support_labels = table(&support_sizes, order_seed ^ 1);
        let tables = LabelTables::separate(&query_labels, &support_labels);
        let sequence = RandomPairs::new(tables, batch_size, seed).unwrap();

        let mut queries = Vec::new();
        let mut supports = Vec::new();
        for batch in epoch(&sequence, 2) {
            check_pair_targets(&batch, &query_labels, &support_labels);
            queries.extend(batch.query);
            supports.extend(batch.support);
        }

        let pairs = query_labels.len().min(support_labels.len());
        prop_assert_eq!(queries.len(), pairs);
        prop_assert_eq!(queries.iter().collect::<HashSet<_>>().len(), pairs);
        prop_assert_eq!(supports.iter().collect::<HashSet<_>>().len(), pairs);
    }

    #[test]
    fn product_enumerates_every_pair_once(
        query_sizes in sizes(1..5, 1..5),
        support_sizes in sizes(1..5, 1..5),
        order_seed in any::<u64>(),
        batch_size in 1usize..9,
    ) {
        let query_labels = table(&query_sizes, order_seed);
        let support_labels = table(&support_sizes, order_seed ^ 1);
        let tables = LabelTables::separate(&query_labels, &support_labels);
        let sequence = Product::labelled(tables, batch_size).unwrap();

        let mut seen = HashSet::new();
        for batch in epoch(&sequence, 0) {
            let targets = batch.targets.unwrap();
            for ((&query, &support), target) in batch.query.iter().zip(&batch.support).zip(targets) {
                prop_assert_eq!(target, query_labels[query] == support_labels[support]);
                prop_assert!(seen.insert((query, support)), "pair ({}, {}) repeated", query, support);
            }
        }
        prop_assert_eq!(seen.len(), query_labels.len() * support_labels.len());

        // Prediction order never changes between epochs.
        prop_assert_eq!(epoch(&sequence, 0), epoch(&sequence, 5));
    }

    #[test]
    fn random_product_enumerates_and_reshuffles(
        sizes in sizes(2..5, 2..5),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
        batch_size in 1usize..9,
    ) {
        let labels = table(&sizes, order_seed);
        let sequence = RandomProduct::new(&labels, batch_size, seed).unwrap();

        let mut seen = HashSet::new();
        for batch in epoch(&sequence, 0) {
            check_pair_targets(&batch, &labels, &labels);
            for (&query, &support) in batch.query.iter().zip(&batch.support) {
                prop_assert!(seen.insert((query, support)));
            }
        }
        prop_assert_eq!(seen.len(), labels.len() * labels.len());

        check_epoch_shuffles(&sequence, &RandomProduct::new(&labels, batch_size, seed).unwrap());
    }

    #[test]
    fn pair_sequences_reshuffle_per_epoch(
        sizes in sizes(3..6, 4..7),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        // At least 12 items, so two independent shuffles coincide with probability below 1e-8.
        let labels = table(&sizes, order_seed);
        let tables = LabelTables::shared(&labels);

        check_epoch_shuffles(&RandomPairs::new(tables, 4, seed).unwrap(), &RandomPairs::new(tables, 4, seed).unwrap());
        check_epoch_shuffles(
            &RandomBalancedPairs::new(tables, 4, seed).unwrap(),
            &RandomBalancedPairs::new(tables, 4, seed).unwrap(),
        );
        check_epoch_shuffles(
            &BalancedPairs::new(tables, 2, 4, seed).unwrap(),
            &BalancedPairs::new(tables, 2, 4, seed).unwrap(),
        );
        check_epoch_shuffles(&Triplets::new(tables, 4, seed).unwrap(), &Triplets::new(tables, 4, seed).unwrap());
        check_epoch_shuffles(
            &SingleImages::new(&labels, &[100, 101, 102, 103, 104, 105], TargetEncoding::Codes, 4).unwrap().shuffled(seed),
            &SingleImages::new(&labels, &[100, 101, 102, 103, 104, 105], TargetEncoding::Codes, 4).unwrap().shuffled(seed),
        );
    }

    #[test]
    fn triplets_have_right_classes(
        query_sizes in sizes(2..6, 1..6),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
        batch_size in 1usize..7,
        shared in any::<bool>(),
    ) {
        let query_labels = table(&query_sizes, order_seed);
        // A separate support table with two items of every query class.
        let support_labels = table(&vec![2; query_sizes.len()], order_seed ^ 1);
        let (tables, support) = if shared {
            (LabelTables::shared(&query_labels), &query_labels)
        } else {
            (LabelTables::separate(&query_labels, &support_labels), &support_labels)
        };
        let result = Triplets::new(tables, batch_size, seed);
        if shared && query_sizes.contains(&1) {
            prop_assert!(result.is_err(), "a class of one item has no positive in a shared table");
            return Ok(());
        }

        let mut anchors = Vec::new();
        for batch in epoch(&result.unwrap(), 1) {
            for ((&anchor, &positive), &negative) in batch.anchor.iter().zip(&batch.positive).zip(&batch.negative) {
                prop_assert_eq!(query_labels[anchor], support[positive]);
                prop_assert_ne!(query_labels[anchor], support[negative]);
                if shared {
                    prop_assert_ne!(anchor, positive);
                }
            }
            anchors.extend(batch.anchor);
        }
        anchors.sort_unstable();
        prop_assert_eq!(anchors, (0..query_labels.len()).collect::<Vec<_>>());
    }

    #[test]
    fn kshot_batches_hold_whole_classes(
        sizes in sizes(2..8, 1..8),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
        k_shot in 1usize..4,
        classes_per_batch in 1usize..4,
        pad in any::<bool>(),
    ) {
        let labels = table(&sizes, order_seed);
        let spec = KShotSpec::new(k_shot, k_shot * classes_per_batch).unwrap().with_padding(pad);
        let result = KShotBatches::new(&labels, spec, seed);

        let feasible = (pad || sizes.iter().all(|&size| size >= k_shot)) && sizes.len() >= classes_per_batch;
        prop_assert_eq!(result.is_ok(), feasible);
        let Ok(sequence) = result else { return Ok(()) };
        prop_assert_eq!(sequence.len(), sizes.len() / classes_per_batch);

        let mut classes_in_epoch = HashSet::new();
        for batch in epoch(&sequence, 4) {
            prop_assert_eq!(batch.class_ids.len(), classes_per_batch);
            prop_assert_eq!(batch.items.len(), k_shot * classes_per_batch);
            for (&item, &label) in batch.items.iter().zip(&batch.labels) {
                prop_assert_eq!(labels[item], batch.class_ids[label as usize]);
            }
            for (label, class) in batch.class_ids.iter().enumerate() {
                prop_assert!(classes_in_epoch.insert(*class), "class {} twice in an epoch", class);
                let items: Vec<usize> = batch.items[label * k_shot..(label + 1) * k_shot].to_vec();
                let distinct = items.iter().collect::<HashSet<_>>().len();
                let size = sizes[(*class - 100) as usize];
                // Items repeat only when the class is smaller than k_shot, and then all are used.
                prop_assert_eq!(distinct, size.min(k_shot));
            }
        }
    }

    #[test]
    fn single_images_cover_table_with_targets(
        sizes in sizes(1..6, 1..6),
        order_seed in any::<u64>(),
        seed in any::<u64>(),
        batch_size in 1usize..7,
        one_hot in any::<bool>(),
    ) {
        let labels = table(&sizes, order_seed);
        // The class list in reverse label order, so codes are not first-seen positions.
        let classes: Vec<u32> = (0..sizes.len() as u32).rev().map(|class| 100 + class).collect();
        let encoding = if one_hot { TargetEncoding::OneHot } else { TargetEncoding::Codes };
        let in_order = SingleImages::new(&labels, &classes, encoding, batch_size).unwrap();
        let shuffled = in_order.clone().shuffled(seed);

        let ordered_items: Vec<usize> = epoch(&in_order, 7).into_iter().flat_map(|batch| batch.items).collect();
        prop_assert_eq!(ordered_items, (0..labels.len()).collect::<Vec<_>>());

        let mut items = Vec::new();
        for batch in epoch(&shuffled, 2) {
            let codes: Vec<usize> = match batch.targets {
                Targets::Codes(codes) => codes.into_iter().map(|code| code as usize).collect(),
                Targets::OneHot { classes: width, values } => {
                    prop_assert_eq!(width, classes.len());
                    values
                        .chunks(width)
                        .map(|row| {
                            assert_eq!(row.iter().sum::<f32>(), 1.0);
                            row.iter().position(|&value| value == 1.0).unwrap()
                        })
                        .collect()
                }
            };
            for (&item, code) in batch.items.iter().zip(codes) {
                prop_assert_eq!(classes[code], labels[item]);
            }
            items.extend(batch.items);
        }
        items.sort_unstable();
        prop_assert_eq!(items, (0..labels.len()).collect::<Vec<_>>());
    }
}
