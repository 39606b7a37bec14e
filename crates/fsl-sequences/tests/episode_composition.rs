//! What episodes contain: per-class counts, disjoint support and query, and class balance.

use std::collections::{HashMap, HashSet};

use fsl_sequences::{EpisodeSampler, EpisodeSpec, Error, SamplerOptions};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Class "A" at item indices 10..=14, "B" and "C" with 6 items each, and five filler classes
/// of 2 items at 0..10, so class A's item indices are 10..=14 rather than 0..=4.
fn overlap_labels() -> Vec<String> {
    let mut labels = Vec::new();
    for index in 0..10 {
        labels.push(format!("filler{}", index / 2));
    }
    labels.extend(std::iter::repeat_n("A".to_string(), 5));
    labels.extend(std::iter::repeat_n("B".to_string(), 6));
    labels.extend(std::iter::repeat_n("C".to_string(), 6));
    labels
}

#[test]
fn support_and_query_disjoint_per_class() {
    let labels = overlap_labels();
    let spec = EpisodeSpec::new(3, 2, 3).unwrap();
    let options = SamplerOptions::new().with_allowed_classes(["A", "B", "C"].map(String::from));
    let sampler = EpisodeSampler::new(&labels, spec, options).unwrap();
    let mut rng = StdRng::seed_from_u64(3);

    for _ in 0..1000 {
        let episode = sampler.sample(&mut rng);
        assert_eq!(episode.class_ids.len(), 3);

        for (label, class) in episode.class_ids.iter().enumerate() {
            let label = label as u32;
            let support: Vec<usize> = episode
                .support
                .iter()
                .zip(&episode.support_labels)
                .filter(|(_, l)| **l == label)
                .map(|(item, _)| *item)
                .collect();
            let query: Vec<usize> = episode
                .query
                .iter()
                .zip(&episode.query_labels)
                .filter(|(_, l)| **l == label)
                .map(|(item, _)| *item)
                .collect();
            let support_set: HashSet<usize> = support.iter().copied().collect();
            let query_set: HashSet<usize> = query.iter().copied().collect();

            assert_eq!(support.len(), 2);
            assert_eq!(query.len(), 3);
            assert_eq!(support_set.len(), 2, "duplicate support item in {support:?}");
            assert_eq!(query_set.len(), 3, "duplicate query item in {query:?}");
            assert!(support_set.is_disjoint(&query_set));
            for item in support.iter().chain(&query) {
                assert_eq!(&labels[*item], class);
            }

            if class == "A" {
                let union: HashSet<usize> = support_set.union(&query_set).copied().collect();
                assert_eq!(union, (10..=14).collect::<HashSet<usize>>());
            }
        }
    }
}

#[test]
fn one_query_too_many_names_class() {
    let labels = overlap_labels();
    let spec = EpisodeSpec::new(3, 2, 4).unwrap();
    let options = SamplerOptions::new().with_allowed_classes(["A", "B", "C"].map(String::from));

    let result = EpisodeSampler::new(&labels, spec, options);

    match result {
        Err(Error::ClassTooSmall { class, have, need }) => {
            assert_eq!(class, "A");
            assert_eq!(have, 5);
            assert_eq!(need, 6);
        }
        other => panic!("expected ClassTooSmall for A, got {other:?}"),
    }
}

#[test]
fn full_way_episode_holds_every_class() {
    let labels: Vec<u32> = (0..5).flat_map(|class| [class; 4]).collect();
    let spec = EpisodeSpec::new(5, 1, 1).unwrap();
    let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).unwrap();
    let mut rng = StdRng::seed_from_u64(0);

    for _ in 0..200 {
        let episode = sampler.sample(&mut rng);
        let mut classes = episode.class_ids.clone();
        classes.sort_unstable();
        assert_eq!(classes, [0, 1, 2, 3, 4]);
    }
}

#[test]
fn allowed_classes_restrict_draws() {
    let labels: Vec<i64> = [1, 2, 3, 7, 9].iter().flat_map(|&c| [c; 4]).collect();
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let options = SamplerOptions::new().with_allowed_classes([1, 2, 3]);
    let sampler = EpisodeSampler::new(&labels, spec, options).unwrap();
    let mut rng = StdRng::seed_from_u64(0);

    for _ in 0..500 {
        let episode = sampler.sample(&mut rng);
        let distinct: HashSet<i64> = episode.class_ids.iter().copied().collect();
        assert_eq!(distinct.len(), 2);
        assert!(distinct.iter().all(|class| [1, 2, 3].contains(class)));
    }
}

#[test]
fn allowed_classes_limit_n_way() {
    let labels: Vec<i64> = [1, 2, 3, 7, 9].iter().flat_map(|&c| [c; 4]).collect();
    let spec = EpisodeSpec::new(4, 1, 1).unwrap();
    let options = SamplerOptions::new().with_allowed_classes([1, 2, 3]);

    let error = EpisodeSampler::new(&labels, spec, options).expect_err("3 classes remain");
    let message = error.to_string();

    assert!(matches!(error, Error::NotEnoughAllowedClasses { n_way: 4, allowed: 3 }));
    assert!(message.contains("3 classes left"), "message: {message}");
}

#[test]
fn class_choice_ignores_class_size() {
    let mut labels = vec!["A"; 1000];
    labels.extend(["B", "B", "B", "C", "C", "C", "D", "D", "D"]);
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();
    let sampler = EpisodeSampler::new(&labels, spec, SamplerOptions::new()).unwrap();
    let mut rng = StdRng::seed_from_u64(11);

    let mut counts: HashMap<&str, usize> = HashMap::new();
    for _ in 0..4000 {
        for class in sampler.sample(&mut rng).class_ids {
            *counts.entry(class).or_default() += 1;
        }
    }

    // Each class is in an episode with p = 2/4; 158 is five binomial standard deviations,
    // 5 * sqrt(4000 * 0.5 * 0.5).
    for class in ["A", "B", "C", "D"] {
        let count = counts.get(class).copied().unwrap_or(0);
        assert!(count.abs_diff(2000) <= 158, "class {class} drawn {count} times");
    }
}
