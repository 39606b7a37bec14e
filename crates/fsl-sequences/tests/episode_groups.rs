//! Within-group sampling, where all classes of an episode come from one group.

use std::collections::HashSet;

use fsl_sequences::{EpisodeSampler, EpisodeSpec, Error, SamplerOptions};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Items as (alphabet, character) pairs with 3 items per character: Greek has 4 characters,
/// Latin 3 and Runic 2.
fn alphabet_items() -> (Vec<String>, Vec<&'static str>) {
    let mut labels = Vec::new();
    let mut groups = Vec::new();
    for (alphabet, characters) in [("Greek", 4), ("Latin", 3), ("Runic", 2)] {
        for character in 0..characters {
            for _ in 0..3 {
                labels.push(format!("{alphabet}/character{character:02}"));
                groups.push(alphabet);
            }
        }
    }
    (labels, groups)
}

#[test]
fn episode_classes_share_group() {
    let (labels, groups) = alphabet_items();
    let spec = EpisodeSpec::new(3, 1, 1).unwrap();
    let options = SamplerOptions::new().with_groups(groups.iter().copied());
    let sampler = EpisodeSampler::new(&labels, spec, options).unwrap();
    let mut rng = StdRng::seed_from_u64(4);

    assert_eq!(sampler.eligible_groups(), Some(vec!["Greek", "Latin"]));

    let mut drawn_groups = HashSet::new();
    for _ in 0..500 {
        let episode = sampler.sample(&mut rng);
        let alphabets: HashSet<String> = episode
            .class_ids
            .iter()
            .map(|class| class.split('/').next().unwrap().to_string())
            .collect();

        assert_eq!(alphabets.len(), 1, "classes {:?}", episode.class_ids);
        drawn_groups.extend(alphabets);
    }

    assert!(!drawn_groups.contains("Runic"), "Runic has only 2 characters");
    assert_eq!(drawn_groups, HashSet::from(["Greek".into(), "Latin".into()]));
}

#[test]
fn all_groups_too_small_rejected() {
    let (labels, groups) = alphabet_items();
    let spec = EpisodeSpec::new(5, 1, 1).unwrap();
    let options = SamplerOptions::new().with_groups(groups);

    let error = EpisodeSampler::new(&labels, spec, options).expect_err("no group has 5 classes");
    let message = error.to_string();

    match error {
        Error::NoEligibleGroup {
            n_way,
            largest_group,
            largest,
        } => {
            assert_eq!(n_way, 5);
            assert_eq!(largest_group, "Greek");
            assert_eq!(largest, 4);
        }
        other => panic!("expected NoEligibleGroup, got {other:?}"),
    }
    assert!(message.contains("n_way = 5"), "message: {message}");
}

#[test]
fn group_count_must_match_labels() {
    let (labels, mut groups) = alphabet_items();
    groups.pop();
    let spec = EpisodeSpec::new(2, 1, 1).unwrap();

    let result = EpisodeSampler::new(&labels, spec, SamplerOptions::new().with_groups(groups));

    assert!(matches!(
        result,
        Err(Error::GroupCountMismatch { groups: 26, labels: 27 })
    ));
}

#[test]
fn class_spanning_groups_rejected() {
    let labels = [1, 1, 2, 2];
    let groups = ["x", "y", "x", "x"];
    let spec = EpisodeSpec::new(1, 1, 1).unwrap();

    let result = EpisodeSampler::new(&labels, spec, SamplerOptions::new().with_groups(groups));

    match result {
        Err(Error::ClassInSeveralGroups {
            class,
            first_group,
            second_group,
        }) => {
            assert_eq!(class, "1");
            assert_eq!(first_group, "x");
            assert_eq!(second_group, "y");
        }
        other => panic!("expected ClassInSeveralGroups, got {other:?}"),
    }
}
