//! Episode labels: one map from class id to 0..n_way per episode, shared by support and query.

use fsl_sequences::{Episode, EpisodeSampler, EpisodeSpec, SamplerOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

#[test]
fn labels_follow_draw_order() {
    let labels: Vec<i64> = [42, 7, 1000].iter().flat_map(|&c| [c; 3]).collect();
    let spec = EpisodeSpec::new(3, 2, 1).unwrap();
    let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).unwrap();

    for index in 0..50 {
        let episode = sampler.episode(0, index);

        assert_eq!(episode.support_labels, [0, 0, 1, 1, 2, 2]);
        assert_eq!(episode.query_labels, [0, 1, 2]);
        for (item, label) in episode.support.iter().zip(&episode.support_labels) {
            assert_eq!(labels[*item], episode.class_ids[*label as usize]);
        }
        for (item, label) in episode.query.iter().zip(&episode.query_labels) {
            assert_eq!(labels[*item], episode.class_ids[*label as usize]);
        }
    }
}

#[test]
fn episodes_identical_across_id_types() {
    let numbers = [42u16, 7, 1000, 7, 42, 1000, 1000, 7, 42, 5, 5, 5];
    let as_i64: Vec<i64> = numbers.iter().map(|&n| i64::from(n)).collect();
    let as_string: Vec<String> = numbers.iter().map(ToString::to_string).collect();
    let spec = EpisodeSpec::new(3, 2, 1).unwrap();
    let by_u16 = EpisodeSampler::new(&numbers, spec, SamplerOptions::new()).unwrap();
    let by_i64 = EpisodeSampler::new(&as_i64, spec, SamplerOptions::new()).unwrap();
    let by_string = EpisodeSampler::new(&as_string, spec, SamplerOptions::new()).unwrap();

    for index in 0..200 {
        let u16_episode = by_u16.episode(9, index);
        let i64_episode = by_i64.episode(9, index);
        let string_episode = by_string.episode(9, index);

        assert_eq!(rendered(&u16_episode), rendered(&i64_episode));
        assert_eq!(rendered(&u16_episode), rendered(&string_episode));
    }
}

/// Copies the episode with class ids as text, so episodes over different id types compare equal.
fn rendered<L: ToString>(episode: &Episode<L>) -> Episode<String> {
    Episode {
        class_ids: episode.class_ids.iter().map(ToString::to_string).collect(),
        support: episode.support.clone(),
        support_labels: episode.support_labels.clone(),
        query: episode.query.clone(),
        query_labels: episode.query_labels.clone(),
    }
}

/// Label lists with 2..8 classes of 2..6 items each, in shuffled order.
fn label_sets() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(2usize..=6, 2..=8)
        .prop_map(|sizes| {
            sizes
                .iter()
                .enumerate()
                .flat_map(|(class, &size)| std::iter::repeat_n(class as u32 * 13, size))
                .collect::<Vec<u32>>()
        })
        .prop_shuffle()
}

proptest! {
    #![proptest_config(Config {
        cases: 64,
        rng_seed: RngSeed::Fixed(20),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn label_map_consistent_between_sets(labels in label_sets(), n_way_pick in 0usize..8) {
        let classes = labels.iter().collect::<std::collections::HashSet<_>>().len();
        let n_way = 1 + n_way_pick % classes;
        let spec = EpisodeSpec::new(n_way, 1, 1).unwrap();
        let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).unwrap();

        for index in 0..200 {
            let episode = sampler.episode(1, index);

            let max_label = episode.support_labels.iter().chain(&episode.query_labels).max();
            prop_assert_eq!(max_label, Some(&(n_way as u32 - 1)));
            for (query, query_label) in episode.query.iter().zip(&episode.query_labels) {
                for (support, support_label) in episode.support.iter().zip(&episode.support_labels) {
                    let same_class = labels[*query] == labels[*support];
                    prop_assert_eq!(same_class, query_label == support_label);
                }
            }
        }
    }
}
